"""The bptt engine's driver: batch order, segments, and the one autograd.Function.

Each cell family (``elman.py``, ``lstm.py``, ``gru.py``) writes its forward and its
hand-derived backward for a *segment* of time steps. This module runs them:

- sequences are sorted by length (longest first), so at step t exactly the first
  ``n_t`` rows are alive and every per-step operation works on a contiguous slice;
- plain mode runs one segment of T steps and keeps its intermediates for backward;
- memory-efficient mode (``checkpoint_every=k``, Gruslys et al. 2016) keeps only the
  state at every k-th step and recomputes each segment's intermediates in backward,
  so memory grows like T/k + k instead of T;
- with a ``tap`` (recording, :mod:`rnnkit.kernels.record`) it hands the states of every
  step to ``tap.forward`` and, in backward, the total state gradients to ``tap.backward``;
  without one nothing extra is computed or kept.
"""
from __future__ import annotations

import torch

from rnnkit.kernels.bptt.norm import ln_backward, ln_forward, ln_normalised
from rnnkit.kernels.reference import batched


class Recurrence:
    """One cell family's math. Subclasses define:

    - ``params(cell)``: the tensors the recurrence reads, in autograd-tracked form;
    - ``forward_segment(P, x, start, Y, sizes, ends, fin)``: run steps, write outputs
      into ``Y`` (k, B, R) and final states into ``fin``; return (saved, end_state);
    - ``backward_segment(P, x, start, Y, saved, dY, carry, sizes, grads, need_dx)``:
      walk the segment backwards, update ``carry`` (the state gradients) in place,
      accumulate ``grads``; return dx (k, B, I) or None;
    - ``cell_tensors(P)``: the cell's own parameters (name -> tensor) as differentiable
      functions of ``P``, for the double backward's recompute.
    """

    state_count = 1
    engine = "bptt"  # the engine name in messages
    cell = None  # the cell it runs (set by the caller): a double backward recomputes through its math

    def new_states(self, saved, Y: torch.Tensor) -> tuple:
        """The states of a segment's steps: the outputs, for cells whose state is their output."""
        return (Y,)

    def init_grads(self, P) -> list:
        """Zero accumulators for the gradients of ``P`` (None where a parameter is absent)."""
        return [None if p is None else torch.zeros_like(p) for p in P]

    # Layer norm over whole segments (rows (..., G*H), per gate over H); the fused engine compiles these.
    def norm_rows(self, A, gain, bias, gates: int, MU, RS) -> torch.Tensor:
        """``LN(A) gain + bias``; MU and RS (N, G) receive μ and 1/σ."""
        out = ln_forward(A, gates, MU, RS) * gain
        return out if bias is None else out.add_(bias)

    def gain_grad(self, grad, d, A, MU, RS, gates: int) -> None:
        """``grad += Σ d ⊙ LN(A)`` over all rows: the gradient of a layer-norm gain."""
        grad += (d.reshape(A.shape) * ln_normalised(A, MU, RS, gates)).reshape(-1, grad.shape[0]).sum(0)

    def norm_rows_backward(self, d, A, MU, RS, gain, grad, gates: int) -> torch.Tensor:
        """Through ``LN(A) gain``: adds the gain's gradient to ``grad``, returns the gradient of ``A``."""
        self.gain_grad(grad, d, A, MU, RS, gates)
        return ln_backward(d * gain, A, MU, RS, gates)


FAST_TANH_MIN = 4096  # elements; below this torch.tanh is the faster of the two (measured on the CPU)


def tanh_into(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = tanh(x)``; on large CPU tensors as ``2 σ(2x) - 1``, since torch's CPU sigmoid
    is about 4x cheaper per element than its tanh. The absolute error stays at rounding
    level (~2e-7 in float32, ~3e-16 in float64); near 0 the relative error is large, as
    always when an O(1) rounding error meets a tiny value."""
    if x.numel() < FAST_TANH_MIN or x.device.type != "cpu":
        return torch.tanh(x, out=out)
    torch.sigmoid(torch.mul(x, 2.0, out=out), out=out)
    return out.mul_(2.0).sub_(1.0)


def buffers(x: torch.Tensor, sizes: list[int]):
    """Allocator for a segment's buffers: zeros where some rows end early (dead rows enter
    whole-segment products and must be 0), uninitialised where every row lives."""
    return x.new_empty if sizes[-1] == x.shape[1] else x.new_zeros


def _whole(t: torch.Tensor) -> torch.Tensor:
    return t


def live(n: int, B: int):
    """Cut a per-step view (B, ...) to its ``n`` live rows; the identity when all rows live."""
    return _whole if n == B else (lambda t: t[:n])


def gate_steps(buf: torch.Tensor, gates: int) -> list:
    """Per gate, the per-step views (B, H) of a (k, B, G*H) buffer: ``out[gate][step]``."""
    k, B, GH = buf.shape
    return [g.unbind(0) for g in buf.view(k, B, gates, GH // gates).unbind(2)]


def record_final(fin, new_state, end: int, n: int) -> None:
    """Rows ``end:n`` ended at this step: copy their state into ``fin``."""
    if end < n:
        for f, s in zip(fin, new_state):
            f[end:n] = s[end:]


def add_recurrent_grad(grad: torch.Tensor, d: torch.Tensor, h_start: torch.Tensor, Y: torch.Tensor) -> None:
    """``grad += Σ_t d_t^T h_{t-1}`` over a segment, as two large products and no copy.

    ``d`` (k, B, G) are the gradients of ``W_hh h_{t-1}``; ``h_{t-1}`` is ``h_start`` (B, R)
    for the first step and the previous output ``Y[t-1]`` (from Y (k, B, R)) after it.
    """
    grad.addmm_(d[0].t(), h_start)
    if d.shape[0] > 1:
        grad.addmm_(d[1:].reshape(-1, d.shape[2]).t(), Y[:-1].reshape(-1, Y.shape[2]))


INFERENCE_ROWS = 1024  # rows (steps x batch) per segment when no gradient is needed (as min_scan's stretches)


def inference_segment(x: torch.Tensor, tensors) -> int | None:
    """Steps per segment when nothing run here needs a gradient (grad mode off, or no input requires one):
    segments of about INFERENCE_ROWS rows, whose buffers stay in cache and are reused, rather than
    one set of buffers for the whole sequence. None when a gradient may be asked for."""
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return None
    return max(1, INFERENCE_ROWS // max(1, x.shape[1]))


def _segments(T: int, k: int | None) -> list[tuple[int, int]]:
    if k is None or k >= T:
        return [(0, T)]
    return [(t0, min(t0 + k, T)) for t0 in range(0, T, k)]


class BPTTFunction(torch.autograd.Function):
    """Forward and hand-written backward of one layer-direction over a sorted batch.

    The hand-written backward runs without a graph. When a backward is asked to build one
    (``create_graph=True``: gradient penalties, Hessian-vector products, MAML), it recomputes
    the layer through the cell's own differentiable math (the reference engine, with the
    cell reading ``P``) and differentiates that instead: the same numbers, to rounding, and
    a graph to differentiate again.
    """

    @staticmethod
    def forward(ctx, rec: Recurrence, sizes: list[int], k: int | None, R: int, tap, x: torch.Tensor, *rest):
        S = rec.state_count
        start, P = tuple(rest[:S]), tuple(rest[S:])
        T = x.shape[0]
        ends = sizes[1:] + [0]  # rows alive at t but not at t+1 end at t
        Y = buffers(x, sizes)(T, x.shape[1], R)  # (T, B, R) outputs, zero past each end
        fin = tuple(torch.empty_like(s) for s in start)  # final states, filled as sequences end
        segs = _segments(T, k)
        starts, saved, made = [], None, []
        with torch.no_grad():
            for t0, t1 in segs:
                starts.append(start)
                saved, start = rec.forward_segment(P, x[t0:t1], start, Y[t0:t1], sizes[t0:t1], ends[t0:t1], fin)
                if tap is not None:
                    made.append(rec.new_states(saved, Y[t0:t1]))
                if len(segs) > 1:
                    saved = None  # recomputed in backward
                    start = tuple(s.clone() for s in start)
            if tap is not None:
                tap.forward(starts[0], tuple(torch.cat(p) for p in zip(*made)))  # per part (T, B, S_j)
        # the caller's initial state goes through save_for_backward, so in-place changes are caught
        ctx.rec, ctx.sizes, ctx.segs, ctx.ends, ctx.starts, ctx.saved = rec, sizes, segs, ends, starts[1:], saved
        ctx.tap = tap
        ctx.save_for_backward(x, Y, *starts[0], *P)
        return (Y, *fin)

    @staticmethod
    def backward(ctx, dY, *dfin):
        if torch.is_grad_enabled() or batched(dY, *dfin):
            # backward(create_graph=True), or a torch.func transform over the backward (vmap of a vector-Jacobian
            # product, as gradcheck's batched check): differentiate a recompute in plain torch ops instead
            return _differentiable_backward(ctx, dY, dfin)
        rec = ctx.rec
        S = rec.state_count
        x, Y, *rest = ctx.saved_tensors
        starts = [tuple(rest[:S]), *ctx.starts]
        P = tuple(rest[S:])
        need_dx = ctx.needs_input_grad[5]
        # gradients of the state, walked back in time (contiguous: compiled loops write them by row)
        carry = tuple(d.clone(memory_format=torch.contiguous_format) for d in dfin)
        grads = rec.init_grads(P)
        dx = torch.empty_like(x) if need_dx and len(ctx.segs) > 1 else None
        # with a tap: per state part, (T, B, S_j) total dL/dh_t, zero where a sequence has ended
        taps = None if ctx.tap is None else tuple(x.new_zeros(*x.shape[:2], s.shape[-1]) for s in starts[0])
        with torch.no_grad():
            for (t0, t1), start in zip(reversed(ctx.segs), reversed(starts)):
                saved = ctx.saved
                if saved is None:  # memory-efficient mode (or a second backward): recompute this segment
                    scratch_Y = buffers(x, ctx.sizes[t0:t1])(t1 - t0, *Y.shape[1:])
                    scratch_fin = tuple(torch.empty_like(s) for s in start)
                    saved, _ = rec.forward_segment(P, x[t0:t1], start, scratch_Y, ctx.sizes[t0:t1],
                                                   ctx.ends[t0:t1], scratch_fin)
                dx_seg = rec.backward_segment(P, x[t0:t1], start, Y[t0:t1], saved, dY[t0:t1], carry,
                                              ctx.sizes[t0:t1], grads, need_dx,
                                              None if taps is None else tuple(b[t0:t1] for b in taps))
                if dx is None:
                    dx = dx_seg  # one segment: its dx is the whole dx
                elif need_dx:
                    dx[t0:t1] = dx_seg
        ctx.saved = None  # free the forward's intermediates now, not when the graph dies
        if taps is not None:
            ctx.tap.backward(taps)
        dP = tuple(g if g is None or ctx.needs_input_grad[6 + S + i] else None for i, g in enumerate(grads))
        return (None, None, None, None, None, dx, *carry, *dP)


def _differentiable_backward(ctx, dY, dfin) -> tuple:
    """The gradients of the Function's inputs, with a graph when one is asked for: the layer recomputed by
    the reference engine from the saved inputs, the cell reading ``P`` (see :class:`BPTTFunction`)."""
    from rnnkit.kernels import reference

    rec = ctx.rec
    if ctx.tap is not None or rec.cell is None:
        raise RuntimeError(f"engine {rec.engine!r}: gradients of gradients (create_graph=True) are not "
                           f"available while recording states; record on a first-order backward")
    S = rec.state_count
    x, _, *rest = ctx.saved_tensors
    start, P = tuple(rest[:S]), tuple(rest[S:])
    sizes = torch.tensor(ctx.sizes)
    lengths = None if ctx.sizes[-1] == x.shape[1] else (sizes[:, None] > torch.arange(x.shape[1])).sum(0)
    create = torch.is_grad_enabled()
    with rec.cell.substituted(rec.cell_tensors(P)), torch.enable_grad():
        Y, fin = reference.run(rec.cell, x, start if S > 1 else start[0], lengths)
    fin = fin if S > 1 else (fin,)
    inputs = (x, *start, *P)
    wanted = [i for i, t in enumerate(inputs) if t is not None and ctx.needs_input_grad[5 + i]]
    grads = torch.autograd.grad((Y, *fin), [inputs[i] for i in wanted], (dY, *dfin), create_graph=create,
                                allow_unused=True, materialize_grads=True)
    out = [None] * len(inputs)
    for i, g in zip(wanted, grads):
        out[i] = g
    return (None, None, None, None, None, *out)
