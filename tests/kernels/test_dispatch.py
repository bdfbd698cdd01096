"""engine="auto" picks by the measured order; forced engines explain why they cannot serve."""
from functools import partial

import pytest
import torch

import rnnkit
from rnnkit.kernels import dispatch
from tests.layers.test_recurrent import PeepholeLSTM

X = torch.randn(5, 3, 4)


def test_auto_follows_the_measured_order_for_each_mode():
    assert rnnkit.explain(rnnkit.LSTM(4, 8), X).chosen == "native"
    assert rnnkit.explain(rnnkit.GRU(4, 8), X).chosen == "bptt"  # training
    assert rnnkit.explain(rnnkit.RNN(4, 8), X).chosen == "bptt"
    with torch.no_grad():
        report = rnnkit.explain(rnnkit.GRU(4, 8), X)
        assert report.chosen == "native" and not report.training
        big = torch.randn(2, 64, 4)  # 64 x 512 elements per step: bptt's faster tanh wins
        assert rnnkit.explain(rnnkit.GRU(4, 512), big).chosen == "bptt"
    frozen = rnnkit.GRU(4, 8).requires_grad_(False)
    assert rnnkit.explain(frozen, X).chosen == "native"  # nothing needs a gradient: inference
    assert rnnkit.explain(frozen, X.clone().requires_grad_()).training


def test_auto_picks_bptt_for_layer_norm_and_checkpointing():
    assert rnnkit.explain(rnnkit.GRU(4, 8, layer_norm=True), X).chosen == "bptt"
    assert rnnkit.explain(rnnkit.GRU(4, 8, checkpoint_every=2), X).chosen == "bptt"
    peephole = rnnkit.Recurrent(partial(PeepholeLSTM, hidden_size=3), input_size=4)
    assert rnnkit.explain(peephole, X.double()).chosen == "reference"


def test_explain_names_every_other_engine_and_why():
    report = str(rnnkit.explain(rnnkit.LSTM(4, 8, layer_norm=True), X))
    assert report.splitlines() == [
        "engine='auto' -> runs 'bptt' (hand-written backpropagation through time)",
        "  native: rejected, torch's fused kernels have no layer norm",
        "  scan: rejected, scan runs cells linear in h (subclasses of rnnkit.cells.LinearCell that keep its step), "
        "not LSTMCell",
        "  reference: could serve, not chosen: 'bptt' comes first in the order measured for training: "
        "native > bptt > reference",
    ]
    forced = str(rnnkit.explain(rnnkit.GRU(4, 8, engine="reference"), X))
    assert "native: could serve, not requested" in forced


def test_forcing_an_engine_that_cannot_serve_says_why():
    with pytest.raises(ValueError, match="LSTM: engine 'native' cannot run LSTMCell on torch.float32: torch's fused "
                                         "kernels have no layer norm. Use engine='auto'"):
        rnnkit.LSTM(4, 8, layer_norm=True, engine="native")
    with pytest.raises(ValueError, match="engine 'reference' cannot run GRUCell on torch.float32: it has no "
                                         "checkpoint_every option"):
        rnnkit.GRU(4, 8, engine="reference", checkpoint_every=10)
    with pytest.raises(ValueError, match="no engine can run PeepholeLSTM"):
        rnnkit.Recurrent(partial(PeepholeLSTM, hidden_size=3), input_size=4, checkpoint_every=10)
    net = rnnkit.GRU(4, 8, engine="bptt").half()
    with pytest.raises(ValueError, match="engine 'bptt' cannot run GRUCell on torch.float16: bptt runs float32 and "
                                         "float64, not torch.float16"):
        net(X.half())


def test_auto_choice_follows_the_order():
    cell = rnnkit.LSTMCell(4, 8)
    assert dispatch.choose(cell, torch.float32, {}) == dispatch.AUTO_ORDER[0]
    assert dispatch.choose(rnnkit.GRUCell(4, 8), torch.float32, {}, training=False) == "native"
    assert dispatch.choose(rnnkit.GRUCell(4, 8), torch.float32, {}, training=True) == "bptt"
    assert dispatch.choose(cell, torch.float32, {"checkpoint_every": 5}) == "bptt"


def test_checkpoint_every_validation():
    with pytest.raises(ValueError, match="LSTM: expected checkpoint_every >= 1, got 0"):
        rnnkit.LSTM(4, 8, checkpoint_every=0)
    with pytest.raises(TypeError, match="LSTM: expected checkpoint_every to be an int"):
        rnnkit.LSTM(4, 8, checkpoint_every=2.5)


def test_layer_with_checkpointing_equals_plain_layer():
    torch.manual_seed(0)
    plain = rnnkit.LSTM(4, 8, num_layers=2, bidirectional=True, dtype=torch.float64)
    ckpt = rnnkit.LSTM(4, 8, num_layers=2, bidirectional=True, checkpoint_every=2, dtype=torch.float64)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(7, 3, 4, dtype=torch.float64)
    (plain(x)[0].sum()).backward()
    (ckpt(x)[0].sum()).backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-10, rtol=0, msg=name)
