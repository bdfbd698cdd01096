"""Vectorised gradients through every engine: ``gradcheck(check_batched_grad=True)`` (torch's older vmap over
the backward) and ``torch.func.vmap`` over a vector-Jacobian product of a forward run outside any transform.
The hand-written backwards cannot be batched (they write into preallocated buffers); under a vmap they hand
over to a recompute in plain torch ops, the same numbers (ported from PyTorch's test_nn RNN gradchecks)."""
import pytest
import torch
from torch.autograd import gradcheck

import rnnkit

ENGINES = ["bptt", "fused", "native", "reference"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind, extra", [("RNN", {}), ("LSTM", {}), ("GRU", {}), ("LSTM", {"layer_norm": True}),
                                         ("GRU", {"bidirectional": True})],
                         ids=["rnn", "lstm", "gru", "lstm-ln", "gru-bi"])
def test_batched_gradcheck_through_every_engine(kind, extra, engine):
    if engine == "native" and extra.get("layer_norm"):
        pytest.skip("torch's kernels have no layer norm")
    torch.manual_seed(0)
    layer = getattr(rnnkit, kind)(2, 3, engine=engine, **extra).double()
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2, 3])
    assert gradcheck(lambda x: layer(x, lengths=lengths)[0], (x,), check_batched_grad=True)


@pytest.mark.parametrize("mode", ["step", "chunked", "log", "fused"])
@pytest.mark.parametrize("kind", ["MinGRU", "MinLSTM"])
def test_batched_gradcheck_through_every_scan_form(kind, mode):
    torch.manual_seed(0)
    layer = getattr(rnnkit, kind)(2, 3, engine="scan", scan_mode=mode).double()
    x = torch.randn(20, 2, 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x: layer(x)[0], (x,), check_batched_grad=True)


@pytest.mark.parametrize("engine", ["bptt", "fused"])
def test_func_vmap_over_a_vector_jacobian_product_gives_each_rows_gradient(engine):
    torch.manual_seed(0)
    layer = rnnkit.GRU(2, 3, engine=engine).double()
    x = torch.randn(5, 2, 2, dtype=torch.float64, requires_grad=True)
    out = layer(x)[0]  # outside any transform: the hand-written Function runs
    cotangents = torch.randn(4, *out.shape, dtype=torch.float64)
    vjp = lambda v: torch.autograd.grad(out, x, v, retain_graph=True)[0]  # noqa: E731
    rows = torch.stack([vjp(v) for v in cotangents])
    torch.testing.assert_close(torch.func.vmap(vjp)(cotangents), rows, rtol=0, atol=1e-12)
