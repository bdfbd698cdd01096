"""Initialisations: each scheme's defining property, spectral-radius scaling."""
import math

import pytest
import torch

import rnnkit
from rnnkit import init

DT = torch.float64


def _blocks(w, gates):
    return w.detach().chunk(gates, dim=0)


@pytest.mark.parametrize("layer,gates", [(lambda **k: rnnkit.RNN(3, 8, **k), 1), (lambda **k: rnnkit.LSTM(3, 8, **k), 4),
                                         (lambda **k: rnnkit.GRU(3, 8, **k), 3)], ids=["rnn", "lstm", "gru"])
def test_orthogonal_blocks(layer, gates):
    net = layer(init="orthogonal", num_layers=2, dtype=DT)
    for name in ("weight_hh_l0", "weight_hh_l1"):
        for block in _blocks(getattr(net, name), gates):
            torch.testing.assert_close(block.T @ block, torch.eye(8, dtype=DT), atol=1e-12, rtol=0)
    assert torch.count_nonzero(net.bias_ih_l0) == 0 and torch.count_nonzero(net.bias_hh_l1) == 0
    bound = math.sqrt(6.0 / (3 + 8))  # Glorot-uniform bound of a (8, 3) input block
    assert net.weight_ih_l0.abs().max() <= bound


def test_identity_irnn():
    torch.manual_seed(0)
    net = rnnkit.RNN(3, 5, nonlinearity="relu", init="identity", dtype=DT)
    assert torch.equal(net.weight_hh_l0, torch.eye(5, dtype=DT))
    assert torch.count_nonzero(net.bias_ih_l0) == 0 and torch.count_nonzero(net.bias_hh_l0) == 0
    assert 0 < net.weight_ih_l0.std() < 0.01
    # with zero input an IRNN keeps its state exactly: the identity recurrence neither vanishes nor explodes
    h0 = torch.rand(1, 2, 5, dtype=DT)
    _, h_n = net(torch.zeros(50, 2, 3, dtype=DT), h0)
    torch.testing.assert_close(h_n, h0, atol=0, rtol=0)


def test_identity_scale_on_gated_blocks():
    net = rnnkit.GRU(3, 4, init=init.Identity(scale=0.5), dtype=DT)
    for block in _blocks(net.weight_hh_l0, 3):
        assert torch.equal(block, 0.5 * torch.eye(4, dtype=DT))


def test_xavier_zero_biases():
    net = rnnkit.LSTM(3, 6, init="xavier", dtype=DT)
    assert torch.count_nonzero(net.bias_hh_l0) == 0
    assert net.weight_hh_l0.abs().max() <= math.sqrt(6.0 / (6 + 6))


def test_chrono_forget_and_input_biases():
    torch.manual_seed(0)
    net = rnnkit.LSTM(3, 50, init=init.Chrono(max_len=200), dtype=DT)
    H = 50
    b = (net.bias_ih_l0 + net.bias_hh_l0).detach()  # the effective bias
    b_i, b_f, b_g, b_o = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    assert float(b_f.min()) >= 0.0 and float(b_f.max()) <= math.log(199)
    torch.testing.assert_close(b_i, -b_f, atol=0, rtol=0)
    assert torch.count_nonzero(b_g) == 0 and torch.count_nonzero(b_o) == 0
    # the mean forget-gate memory 1/(1 - sigmoid(b_f)) = 1 + exp(b_f) spans up to ~max_len steps
    assert 100 < float((1 + b_f.exp()).max()) <= 200


def test_chrono_rejects_non_lstm():
    with pytest.raises(ValueError, match="chrono is for LSTM cells"):
        rnnkit.GRU(3, 4, init="chrono")


@pytest.mark.parametrize("radius", [0.5, 0.9, 1.0, 1.1, 3.0])
def test_spectral_radius_scaling(radius):
    torch.manual_seed(0)
    net = rnnkit.RNN(3, 16, num_layers=2, spectral_radius=radius, dtype=DT)
    for name in ("weight_hh_l0", "weight_hh_l1"):
        assert init.spectral_radius(getattr(net, name)) == pytest.approx(radius, rel=1e-10)


def test_spectral_radius_after_a_scheme_on_gated_blocks():
    net = rnnkit.LSTM(3, 6, init="orthogonal", spectral_radius=0.8, dtype=DT)
    for block in _blocks(net.weight_hh_l0, 4):
        assert init.spectral_radius(block) == pytest.approx(0.8, rel=1e-10)


def test_custom_callable_init():
    def zeros(cell):
        for p in cell.parameters():  # a layer's cells still list their own parameters
            torch.nn.init.zeros_(p)
    net = rnnkit.RNN(3, 4, num_layers=2, init=zeros)
    assert all(torch.count_nonzero(p) == 0 for p in net.parameters())


def test_default_keeps_torch_bounds():
    net = rnnkit.LSTM(3, 25, init="default", layer_norm=True)
    bound = 1 / math.sqrt(25)
    assert net.weight_hh_l0.abs().max() <= bound
    assert torch.equal(net.ln_weight_c_l0, torch.ones(25)) and torch.equal(net.ln_bias_c_l0, torch.zeros(25))


def test_chrono_for_the_min_cells_spans_memory_times_up_to_max_len():
    """At zero input a_t = u / (1 + u) with u ~ U(1, max_len - 1): memories 1 / (1 - a) = 1 + u in [2, max_len]."""
    from rnnkit.cells import MinGRUCell, MinLSTMCell
    torch.manual_seed(0)
    for cls in (MinGRUCell, MinLSTMCell):
        cell = cls(3, 400, dtype=torch.float64)
        weights = cell.weight_ih.detach().clone()
        init.initialize(cell, init.Chrono(max_len=50))
        a, _ = cell.coefficients(torch.zeros(1, 3, dtype=torch.float64))
        memory = 1 / (1 - a)
        assert memory.min() >= 2 - 1e-9 and memory.max() <= 50 + 1e-9 and memory.max() > 40
        assert torch.equal(cell.weight_ih, weights)  # weights untouched
