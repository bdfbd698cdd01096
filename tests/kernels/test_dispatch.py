"""engine="auto" picks by the measured order; forced engines explain why they cannot serve."""
from functools import partial

import pytest
import torch

import rnnkit
from rnnkit.kernels import dispatch
from tests.layers.test_recurrent import PeepholeLSTM

X = torch.randn(5, 3, 4)


def test_auto_follows_the_measured_order_for_each_mode():
    # few sequences: the compiled loops for every cell; more: oneDNN for the LSTM, still fused for GRU and RNN
    wide = torch.randn(5, 16, 4)
    for mode in (torch.enable_grad, torch.no_grad):
        with mode():
            assert rnnkit.explain(rnnkit.LSTM(4, 8), X).chosen == "fused"
            assert rnnkit.explain(rnnkit.LSTM(4, 8), wide).chosen == "native"
            assert rnnkit.explain(rnnkit.GRU(4, 8), wide).chosen == "fused"
            assert rnnkit.explain(rnnkit.RNN(4, 8, nonlinearity="relu"), wide).chosen == "fused"
    frozen = rnnkit.GRU(4, 8).requires_grad_(False)
    assert not rnnkit.explain(frozen, X).training  # nothing needs a gradient: inference
    assert rnnkit.explain(frozen, X.clone().requires_grad_()).training


def test_auto_order_rule():
    lstm, gru = rnnkit.LSTMCell(4, 8), rnnkit.GRUCell(4, 8)
    assert dispatch.auto_order(lstm, True, batch=4) == dispatch.FUSED_FIRST
    assert dispatch.auto_order(lstm, False, batch=5) == dispatch.NATIVE_FIRST
    assert dispatch.auto_order(rnnkit.LSTMCell(4, 8, layer_norm=True), True, batch=64) == dispatch.FUSED_FIRST
    assert dispatch.auto_order(gru, True, batch=512) == dispatch.FUSED_FIRST


def test_auto_picks_fused_for_layer_norm_and_checkpointing():
    assert rnnkit.explain(rnnkit.GRU(4, 8, layer_norm=True), X).chosen == "fused"
    assert rnnkit.explain(rnnkit.LSTM(4, 8, checkpoint_every=2), torch.randn(5, 16, 4)).chosen == "fused"
    peephole = rnnkit.Recurrent(partial(PeepholeLSTM, hidden_size=3), input_size=4)
    assert rnnkit.explain(peephole, X.double()).chosen == "reference"


def test_auto_falls_back_to_bptt_when_the_kernels_cannot_be_built(monkeypatch):
    from rnnkit.kernels.fused import build
    monkeypatch.setitem(build._failures, "gru", "no C++ compiler ('c++' is not on PATH): install g++ (or set CXX)")
    monkeypatch.delitem(build._modules, "gru", raising=False)
    report = rnnkit.explain(rnnkit.GRU(4, 8), X)
    assert report.chosen == "bptt"
    assert "fused: rejected, no C++ compiler ('c++' is not on PATH): install g++ (or set CXX)" in str(report)
    with pytest.raises(ValueError, match=r"engine 'fused' cannot run GRUCell on torch.float32: no C\+\+ compiler "
                                         r"\('c\+\+' is not on PATH\): install g\+\+"):
        rnnkit.GRU(4, 8, engine="fused")


def test_explain_names_every_other_engine_and_why():
    report = str(rnnkit.explain(rnnkit.LSTM(4, 8, layer_norm=True), X))
    order = "fused > bptt > native > reference"
    assert report.splitlines() == [
        "engine='auto' -> runs 'fused' (bptt with each time loop compiled (C++, built on first use))",
        "  5 steps of the compiled loop lstm.cpp; 3 row(s) per step multiplied in registers (no BLAS call)",
        "  native: rejected, torch's fused kernels have no layer norm",
        # the tests run Triton's CPU interpreter (tests/conftest.py); without it: "triton: rejected, triton runs on
        # CUDA devices ..." (tests/kernels/test_triton_recurrent.py)
        f"  triton: could serve, not chosen: 'fused' comes first in the order measured for training: {order}",
        f"  bptt: could serve, not chosen: 'fused' comes first in the order measured for training: {order}",
        "  scan: rejected, scan runs cells linear in h (subclasses of rnnkit.cells.LinearCell that keep its step), "
        "not LSTMCell",
        f"  reference: could serve, not chosen: 'fused' comes first in the order measured for training: {order}",
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
    assert dispatch.choose(cell, torch.float32, {}) == "fused"
    assert dispatch.choose(cell, torch.float32, {}, batch=32) == "native"
    assert dispatch.choose(cell, torch.float32, {"checkpoint_every": 5}, batch=32) == "fused"  # native has no option
    assert dispatch.choose(rnnkit.GRUCell(4, 8), torch.float16, {}) == "reference"  # only it runs float16 on CPU
    assert dispatch.choose(cell, torch.float32, {}, recording=True) == "bptt"  # fused does not record


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
