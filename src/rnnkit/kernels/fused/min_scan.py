"""minGRU and minLSTM through the compiled loop of ``min_scan.cpp``, a stretch of steps at a time.

:func:`states` runs a built-in :class:`~rnnkit.cells.mingru.MinCell` over x (T, B, I):
for each stretch of about ``ROWS`` rows (steps x batch) one product ``W_ih x + b_ih``
into a reused buffer, then the compiled loop writes that stretch's states. The backward
walks the stretches in reverse: it recomputes each stretch's pre-activations (one
product), runs the compiled reverse loop into a reused buffer, and adds that stretch's
share of ``dL/dW_ih`` (one product) and ``dL/dx`` (one product). The full (T, B, G*H)
pre-activations are never stored: on these CPUs a fresh 100 MB tensor costs more in
page faults than recomputing the product (benchmarks/RESULTS.md, issue 12).

When a higher-order gradient is asked for (``create_graph=True``), the backward
recomputes through the differentiable scan (:mod:`rnnkit.kernels.scan_forms`) instead,
so double backward gives the same numbers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.cells.mingru import MinCell, MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels import fused
from rnnkit.kernels.reference import batched
from rnnkit.kernels.scan_forms import linear_scan

SOURCE = "min_scan"
CELLS = (MinGRUCell, MinLSTMCell)
MATH = ("coefficients", "coefficients_of", "preactivations", "candidate", "step")
ROWS = 1024  # rows (steps x batch) per stretch: measured fastest for the products here (1,024 of 256..4,096)


def serves(cell) -> bool:
    """Whether the compiled loop computes ``cell``'s numbers: a built-in min cell none of whose math is overridden."""
    base = next((c for c in CELLS if isinstance(cell, c)), None)
    return base is not None and all(getattr(type(cell), m) is getattr(base, m) for m in MATH)


def _stretches(T: int, B: int) -> list[tuple[int, int]]:
    steps = max(1, ROWS // B)
    return [(t0, min(T, t0 + steps)) for t0 in range(0, T, steps)]


class MinScan(torch.autograd.Function):
    """``h = states(x, W_ih, b_ih, h0)``: forward and backward compiled; see the module docstring."""

    @staticmethod
    def forward(x, weight, bias, h0, lengths, cell):
        kernel = fused.load(SOURCE)
        T, B, _ = x.shape
        lstm = isinstance(cell, MinLSTMCell)
        h = x.new_empty(T, B, cell.hidden_size)
        buffer = x.new_empty(max(1, ROWS // B) * B, weight.shape[0])
        start = h0
        for t0, t1 in _stretches(T, B):
            rows = (t1 - t0) * B
            pre = buffer[:rows]
            if bias is None:
                torch.mm(x[t0:t1].view(rows, -1), weight.t(), out=pre)
            else:
                torch.addmm(bias, x[t0:t1].view(rows, -1), weight.t(), out=pre)
            kernel.forward(pre.view(t1 - t0, B, -1), start, lengths, t0, h[t0:t1], lstm, cell.positive_b)
            start = h[t1 - 1]
        return h

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, h0, lengths, cell = inputs
        ctx.cell = cell
        ctx.save_for_backward(x, weight, bias, h0, lengths, output)

    @staticmethod
    def backward(ctx, grad_h):
        x, weight, bias, h0, lengths, h = ctx.saved_tensors
        cell = ctx.cell
        wanted = ctx.needs_input_grad[:4]
        if torch.is_grad_enabled() or batched(grad_h):  # create_graph=True, or a vmap over this backward
            return (*_differentiable_grads(cell, x, weight, bias, h0, lengths, grad_h, wanted), None, None)
        kernel = fused.load(SOURCE)
        T, B, _ = x.shape
        lstm = isinstance(cell, MinLSTMCell)
        buffer = x.new_empty(max(1, ROWS // B) * B, weight.shape[0])
        grads = x.new_empty(buffer.shape)
        grad_x = torch.empty_like(x) if wanted[0] else None
        grad_w = torch.zeros_like(weight) if wanted[1] else None
        grad_b = torch.zeros_like(bias) if bias is not None and wanted[2] else None
        carry = h0.new_zeros(h0.shape)
        for t0, t1 in reversed(_stretches(T, B)):
            rows = (t1 - t0) * B
            x_rows = x[t0:t1].view(rows, -1)
            pre, grad_pre = buffer[:rows], grads[:rows]
            if bias is None:
                torch.mm(x_rows, weight.t(), out=pre)
            else:
                torch.addmm(bias, x_rows, weight.t(), out=pre)
            start = h0 if t0 == 0 else h[t0 - 1]
            kernel.backward(grad_h[t0:t1].contiguous(), pre.view(t1 - t0, B, -1), h[t0:t1], start, lengths, t0,
                            carry, grad_pre.view(t1 - t0, B, -1), lstm, cell.positive_b)
            if grad_w is not None:
                grad_w.addmm_(grad_pre.t(), x_rows)
            if grad_b is not None:
                grad_b.add_(grad_pre.sum(0))
            if grad_x is not None:
                torch.mm(grad_pre, weight, out=grad_x[t0:t1].view(rows, -1))
        return grad_x, grad_w, grad_b, (carry if wanted[3] else None), None, None


def _differentiable_grads(cell, x, weight, bias, h0, lengths, grad_h, wanted) -> list:
    """The four input gradients with a graph, recomputed through the differentiable chunked scan."""
    inputs = (x, weight, bias, h0)
    targets = [t for t, w in zip(inputs, wanted) if w]
    create = torch.is_grad_enabled()
    with torch.enable_grad():
        a, b = cell.coefficients_of(F.linear(x, weight, bias))  # (T, B, H) each
        dead = (torch.arange(x.shape[0]).unsqueeze(1) >= lengths).to(x.device).unsqueeze(-1)  # (T, B, 1)
        again = linear_scan(a.masked_fill(dead, 1.0), b.masked_fill(dead, 0.0), h0, form="chunked")
        found = iter(torch.autograd.grad(again, targets, grad_h, create_graph=create, allow_unused=True))
    return [next(found) if w else None for w in wanted]


def states(cell: MinCell, x: torch.Tensor, h0: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Every state (T, B, H) of ``cell`` over ``x`` (T, B, I) from ``h0`` (B, H); ``lengths`` (B,) or None.
    Each sequence's state holds after its end."""
    T, B = x.shape[0], x.shape[1]
    lengths = torch.full((B,), T, dtype=torch.int64) if lengths is None else lengths.to(torch.int64).contiguous()
    return MinScan.apply(x.contiguous(), cell.weight_ih, cell.bias_ih, h0.contiguous(), lengths.cpu(), cell)


def missing() -> str | None:
    """Why the compiled loop cannot run here (building it on first call), or None."""
    return fused.missing(SOURCE)
