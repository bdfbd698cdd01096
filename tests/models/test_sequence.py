"""SequenceModel: per-sample resets, the cells it builds, wrapping any layer, recording without changes."""
from functools import partial

import pytest
import torch

import rnnkit
from rnnkit.layers import record_states
from rnnkit.models import SequenceModel, run_with_resets


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_resets_restart_a_sample(cell):
    torch.manual_seed(0)
    model = SequenceModel(cell, 3, 5, 2, num_layers=2).double()
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    resets = torch.zeros(9, 4, dtype=torch.bool)
    resets[4, 1] = True  # sample 1 starts a new sequence at t = 4
    y, state = model(x, None, resets)
    fresh, _ = model(x[4:, 1:2])
    assert torch.allclose(y[4:, 1:2], fresh, atol=1e-12)
    untouched, _ = model(x[:, [0, 2, 3]])
    assert torch.allclose(y[:, [0, 2, 3]], untouched, atol=1e-12)
    out, state2 = run_with_resets(model.rnn, x, None, resets)  # the public function the model runs
    torch.testing.assert_close(model.head(out), y, rtol=0, atol=0)


def test_recording_sees_each_piece_between_resets():
    torch.manual_seed(0)
    model = SequenceModel("lstm", 3, 5, 2, num_layers=2).double()
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    resets = torch.zeros(9, 4, dtype=torch.bool)
    resets[4, 1] = True
    plain, _ = model(x, None, resets)
    with record_states(model) as recorder:
        y, _ = model(x, None, resets)
    torch.testing.assert_close(y, plain, rtol=0, atol=1e-12)
    assert [(r.layer, r.length) for r in recorder] == [(0, 4), (1, 4), (0, 5), (1, 5)]
    assert len(recorder[0].states) == 5 and not hasattr(model, "last_trace")
    h0, c0 = recorder[2].states[0]  # the second piece starts from the first's end, sample 1 zeroed
    assert h0[1].abs().sum() == 0 and c0[1].abs().sum() == 0 and h0[0].abs().sum() > 0


@pytest.mark.parametrize("cell,nonlinearity", [("rnn", "tanh"), ("tanh", "tanh"), ("relu", "relu")])
def test_elman_cells_and_layer_options(cell, nonlinearity):
    torch.manual_seed(0)
    model = SequenceModel(cell, 2, 4, 3, bidirectional=True, spectral_radius=0.9)
    assert isinstance(model.rnn, rnnkit.RNN) and model.rnn.nonlinearity == nonlinearity
    assert model.head.in_features == 8 and model.rnn.bidirectional
    radius = torch.linalg.eigvals(model.rnn.weight_hh_l0.detach().double()).abs().max()
    assert float(radius) == pytest.approx(0.9)
    y, h = model(torch.randn(5, 2, 2))
    assert y.shape == (5, 2, 3) and h.shape == (2, 2, 4)


def test_same_seed_same_weights_as_layer_then_head():
    torch.manual_seed(3)
    model = SequenceModel("gru", 2, 4, 1)
    torch.manual_seed(3)
    layer = rnnkit.GRU(2, 4)
    head = torch.nn.Linear(4, 1)
    for name, p in layer.state_dict().items():
        assert torch.equal(model.rnn.state_dict()[name], p)
    assert torch.equal(model.head.weight, head.weight) and torch.equal(model.head.bias, head.bias)


def test_around_wraps_any_recurrent_layer():
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(partial(rnnkit.GRUCell, hidden_size=3), input_size=2, bidirectional=True)
    model = SequenceModel.around(layer, 4)
    assert model.rnn is layer and model.head.in_features == 6
    y, _ = model(torch.randn(5, 2, 2))
    assert y.shape == (5, 2, 4)
    with pytest.raises(TypeError, match="SequenceModel.around: expected layer to be an rnnkit.Recurrent, got GRU"):
        SequenceModel.around(torch.nn.GRU(2, 3), 4)


def test_bad_cell_name():
    with pytest.raises(ValueError, match="unknown cell 'tcn'; valid values are 'rnn', 'tanh', 'relu', 'lstm', 'gru'"):
        SequenceModel("tcn", 2, 4, 1)
