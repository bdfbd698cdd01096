r"""The first-order linear scan ``h_t = a_t ⊙ h_{t-1} + b_t`` in each of its forms, with its gradient.

Every form takes ``a``, ``b`` of shape (T, *S) and ``h0`` of shape S and returns every
state ``h_1 .. h_T`` (T, *S); ``reverse=True`` runs from t = T down to 1 instead
(``h_t = a_t h_{t+1} + b_t``, ``h0`` entering at t = T).

- ``sequential``: one fused multiply-add per step, T steps (what step mode computes).
- ``chunked``: time cut into ``n`` chunks of ``C`` steps; a sequential scan inside every
  chunk at once (C steps over ``n * S`` lanes), the chunk-to-chunk carries
  (``n`` steps), and one multiply-add that adds each carry times the running product
  of ``a`` inside its chunk. About ``2 sqrt(T)`` dispatched steps instead of T, the same
  products as the sequential form, reassociated; no logarithms, so any sign of ``b``.
- ``log``: the log-space form of Heinsen (2023), ``log h_t = a*_t +
  logcumsumexp_s(log b_s - a*_s)`` with ``a*_t = sum_{s<=t} log a_s``, for ``b > 0``,
  computed chunk by chunk (the same carries as ``chunked``) so ``a*`` never grows
  with T, which is where a whole-sequence log-space scan loses precision in float32.
- ``triton``: :mod:`rnnkit.kernels.triton.scan` on GPU.

The gradient is written out, whatever the forward form: with ``g_t = dL/dh_t`` (total),
``g_t = dy_t + a_{t+1} g_{t+1}`` is the same scan run in reverse, and
``dL/db_t = g_t``, ``dL/da_t = g_t h_{t-1}``, ``dL/dh0 = a_1 g_1``. The backward calls
the differentiable scan, so double backward works too.
"""
from __future__ import annotations

import math

import torch

from rnnkit.kernels.reference import batched

FORMS = ("sequential", "chunked", "log", "triton")


def chunk_size(T: int) -> int:
    """Steps per chunk for ``T`` steps: about sqrt(T), which balances the two dispatched loops."""
    return max(1, int(math.ceil(math.sqrt(T))))


def sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """Every state, one step at a time: (T, *S)."""
    order = range(a.shape[0] - 1, -1, -1) if reverse else range(a.shape[0])
    h = h0
    if batched(a, b, h0):  # under a vmap: no writes into a preallocated tensor
        states = []
        for t in order:
            h = torch.addcmul(b[t], a[t], h)
            states.append(h)
        return torch.stack(states[::-1] if reverse else states)
    out = torch.empty_like(b)
    for t in order:
        h = torch.addcmul(b[t], a[t], h, out=out[t])
    return out


def _pad(x: torch.Tensor, steps: int, value: float) -> torch.Tensor:
    """``x`` (T, *S) with ``steps`` more steps of ``value`` at the end."""
    return torch.cat([x, x.new_full((steps, *x.shape[1:]), value)]) if steps else x


def chunked(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, reverse: bool = False,
            chunk: int | None = None) -> torch.Tensor:
    """Every state, chunk by chunk (see the module docstring): (T, *S)."""
    if reverse:
        return chunked(a.flip(0), b.flip(0), h0, False, chunk).flip(0)
    T, S = a.shape[0], a.shape[1:]
    C = chunk_size(T) if chunk is None else chunk
    n = -(-T // C)
    # Padding with a = 1, b = 0 after the end changes no state before it.
    A = _pad(a, n * C - T, 1.0).view(n, C, *S)  # (n, C, *S)
    Bc = _pad(b, n * C - T, 0.0).view(n, C, *S)  # (n, C, *S)
    if batched(a, b, h0):  # under a vmap: no writes into a preallocated tensor
        steps = [Bc[:, 0]]
        for c in range(1, C):
            steps.append(torch.addcmul(Bc[:, c], A[:, c], steps[-1]))
        local = torch.stack(steps, dim=1)
    else:
        local = torch.empty_like(Bc)  # each chunk's states from a zero start
        local[:, 0] = Bc[:, 0]
        for c in range(1, C):
            torch.addcmul(Bc[:, c], A[:, c], local[:, c - 1], out=local[:, c])
    prod = torch.cumprod(A, dim=1)  # (n, C, *S): a's running product inside each chunk
    return _carry(local, prod, h0)[:T]


def _carry(local: torch.Tensor, prod: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Chunk-local states and running products (n, C, *S) -> the states from ``h0`` (n*C, *S)."""
    n, C = local.shape[:2]
    before = []  # the state before each chunk
    h = h0
    for k in range(n):
        before.append(h)
        h = torch.addcmul(local[k, -1], prod[k, -1], h)
    starts = torch.stack(before)  # (n, *S)
    return torch.addcmul(local, prod, starts.unsqueeze(1)).reshape(n * C, *local.shape[2:])


def log_space(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor, reverse: bool = False,
              chunk: int | None = None) -> torch.Tensor:
    """Every state from ``log a`` and ``log b`` (b > 0), log space inside chunks: (T, *S)."""
    if reverse:
        return log_space(log_a.flip(0), log_b.flip(0), h0, False, chunk).flip(0)
    T, S = log_a.shape[0], log_a.shape[1:]
    C = min(T, 256) if chunk is None else chunk
    n = -(-T // C)
    la = _pad(log_a, n * C - T, 0.0).view(n, C, *S)  # (n, C, *S)
    lb = _pad(log_b, n * C - T, -math.inf).view(n, C, *S)  # (n, C, *S); padding adds b = 0
    star = torch.cumsum(la, dim=1)  # (n, C, *S): a* inside each chunk
    local = torch.exp(star + torch.logcumsumexp(lb - star, dim=1))  # chunk states from a zero start
    return _carry(local, torch.exp(star), h0)[:T]


def run_form(form: str, a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, reverse: bool) -> torch.Tensor:
    """The states by the named form; ``log`` takes log a and log b in place of a and b."""
    if form == "sequential":
        return sequential(a, b, h0, reverse)
    if form == "chunked":
        return chunked(a, b, h0, reverse)
    if form == "log":
        return log_space(a, b, h0, reverse)
    if form != "triton":
        raise ValueError(f"linear_scan: unknown form {form!r}; valid forms are {', '.join(map(repr, FORMS))}")
    from rnnkit.kernels.triton import scan as triton_scan  # import-guarded: only when asked for
    return triton_scan.linear_scan(a, b, h0, reverse)


class LinearScan(torch.autograd.Function):
    """``h = scan(a, b, h0)`` by ``form``; backward by the reverse scan (see the module docstring).

    For ``form="log"`` the first two inputs are ``log a`` and ``log b``; the gradients
    returned are then those of the logs (``dL/dlog a = a dL/da``, ``dL/dlog b = b dL/db``).
    ``tap``, if given, receives the total state gradients ``g`` (T, *S) in backward.
    """

    @staticmethod
    def forward(a, b, h0, form: str, reverse: bool, backward_form: str, tap):
        return run_form(form, a, b, h0, reverse)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, h0, form, reverse, backward_form, tap = inputs
        ctx.form, ctx.reverse, ctx.backward_form, ctx.tap = form, reverse, backward_form, tap
        ctx.save_for_backward(a, b, h0, output)

    @staticmethod
    def backward(ctx, grad_h):
        a, b, h0, h = ctx.saved_tensors
        if ctx.form == "log":
            a, b = torch.exp(a), torch.exp(b)
        g = state_gradients(a, grad_h, ctx.reverse, ctx.backward_form)
        if ctx.tap is not None:
            ctx.tap(g.detach())
        previous = _previous(h, h0, ctx.reverse)  # h_{t-1} (in scan order) for every t
        grad_a, grad_b = g * previous, g
        first = -1 if ctx.reverse else 0
        grad_h0 = a[first] * g[first]
        if ctx.form == "log":
            grad_a, grad_b = grad_a * a, grad_b * b
        return grad_a, grad_b, grad_h0, None, None, None, None


def state_gradients(a: torch.Tensor, grad_h: torch.Tensor, reverse: bool, form: str) -> torch.Tensor:
    """``g_t = dy_t + a_{t+1} g_{t+1}`` (scan order) for every t: the scan of ``grad_h`` the other way."""
    shifted = torch.cat([a[1:], a.new_zeros(1, *a.shape[1:])]) if not reverse else \
        torch.cat([a.new_zeros(1, *a.shape[1:]), a[:-1]])  # a_{t+1} in scan order; nothing after the end
    zero = grad_h.new_zeros(grad_h.shape[1:])
    return linear_scan(shifted, grad_h, zero, not reverse, form)


def _previous(h: torch.Tensor, h0: torch.Tensor, reverse: bool) -> torch.Tensor:
    """The state before each step in scan order: (T, *S)."""
    if reverse:
        return torch.cat([h[1:], h0.unsqueeze(0)])
    return torch.cat([h0.unsqueeze(0), h[:-1]])


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, reverse: bool = False,
                form: str = "chunked", backward_form: str | None = None, tap=None) -> torch.Tensor:
    """Differentiable ``h_t = a_t h_{t-1} + b_t`` -> (T, *S); ``form="log"`` takes (log a, log b).

    ``backward_form``: the form of the reverse scan in backward (default: ``form``, and
    ``chunked`` for ``log``, whose gradient scan has signed inputs).
    """
    if backward_form is None:
        backward_form = "chunked" if form == "log" else form
    h0 = h0.expand(a.shape[1:]) if h0.shape != a.shape[1:] else h0
    return LinearScan.apply(a, b, h0, form, reverse, backward_form, tap)
