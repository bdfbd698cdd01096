"""The Triton scan kernel on the CPU through Triton's interpreter (TRITON_INTERPRET=1), at small shapes."""
import os

import pytest
import torch

assert os.environ.get("TRITON_INTERPRET") == "1", "tests/conftest.py sets TRITON_INTERPRET=1 before triton loads"
triton = pytest.importorskip("triton")  # a dev dependency; the kernels themselves are optional at run time
from rnnkit.kernels.triton import scan as triton_scan  # noqa: E402

from rnnkit.kernels import scan_forms  # noqa: E402

DT = torch.float64


def _case(steps, lanes, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(steps, *lanes, generator=gen, dtype=DT).to(dtype)
    b = torch.randn(steps, *lanes, generator=gen, dtype=DT).to(dtype)
    h0 = torch.randn(*lanes, generator=gen, dtype=DT).to(dtype)
    return a, b, h0


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("steps,lanes", [(1, (3,)), (31, (2, 5)), (32, (40,)), (70, (3, 13))])
def test_kernel_equals_sequential_scan(steps, lanes, reverse):
    """Steps not a multiple of BLOCK_T (32) and lanes not a multiple of BLOCK_N (32) included."""
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        a, b, h0 = _case(steps, lanes, dtype)
        got = triton_scan.linear_scan(a, b, h0, reverse)
        want = scan_forms.sequential(a, b, h0, reverse)
        torch.testing.assert_close(got, want, atol=tol, rtol=tol)


def test_gradients_through_the_triton_form_equal_the_sequential_form():
    a, b, h0 = (t.requires_grad_() for t in _case(45, (2, 6), DT, seed=1))
    weights = torch.randn(45, 2, 6, dtype=DT)
    grads = {}
    for form in ("triton", "sequential"):
        h = scan_forms.linear_scan(a, b, h0, form=form)
        grads[form] = torch.autograd.grad((h * weights).sum(), (a, b, h0))
    for got, want in zip(grads["triton"], grads["sequential"]):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)
