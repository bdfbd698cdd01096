"""SequenceModel: the layer path, the stepped (traced) path and per-sample resets agree."""
import pytest
import torch

from rnnkit.models import SequenceModel


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_traced_path_matches_layer_and_resets_restart_a_sample(cell):
    torch.manual_seed(0)
    model = SequenceModel(cell, 3, 5, 2, num_layers=2).double()
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    resets = torch.zeros(9, 4, dtype=torch.bool)
    resets[4, 1] = True  # sample 1 starts a new sequence at t = 4
    y, state = model(x, None, resets)
    model.record_trace = True
    y_traced, state_traced = model(x, None, resets)
    assert torch.allclose(y, y_traced, atol=1e-12)
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    state_traced if isinstance(state_traced, tuple) else (state_traced,)):
        assert torch.allclose(a, b, atol=1e-12)
    assert len(model.last_trace) == 2 and len(model.last_trace[0].states) == 10
    model.record_trace = False
    fresh, _ = model(x[4:, 1:2])
    assert torch.allclose(y[4:, 1:2], fresh, atol=1e-12)
    untouched, _ = model(x[:, [0, 2, 3]])
    assert torch.allclose(y[:, [0, 2, 3]], untouched, atol=1e-12)


def test_bad_cell_name():
    with pytest.raises(ValueError, match="unknown cell 'tcn'; valid values are 'rnn', 'lstm', 'gru'"):
        SequenceModel("tcn", 2, 4, 1)
