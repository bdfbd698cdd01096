"""The fused engine: the bptt engine with each time loop compiled (``elman.cpp``, ``lstm.cpp``, ``gru.cpp``).

Everything but the per-step loops is the bptt engine's own (:mod:`rnnkit.kernels.bptt`):
the batch sorted by length, reverse, ``checkpoint_every`` segments, the whole-segment
input products and every weight gradient as single large products. Each family here
subclasses bptt's recurrence and replaces its ``forward_loop`` and ``backward_loop``
(a Python loop of 7-15 tensor operations per step) with one compiled call per segment,
which per step runs one BLAS product into a preallocated buffer and one vectorised
pointwise pass (:file:`loop.h`). The numbers are bptt's, to rounding.

It does not record per-step gradients (``record=``): engine ``auto`` records on bptt.
"""
from __future__ import annotations

import torch

from rnnkit._state import State
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.cells._norm import EPS
from rnnkit.kernels import fused
from rnnkit.kernels.bptt import DTYPES, family_of, run_family
from rnnkit.kernels.bptt.elman import ElmanRecurrence
from rnnkit.kernels.bptt.gru import GRURecurrence
from rnnkit.kernels.bptt.lstm import LSTMRecurrence


def _c(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.contiguous()


class _Compiled:
    """What the three compiled families share: the engine's name, the whole-segment layer norms through the
    compiled kernel, and the transposed weights the forward loops multiply by."""

    engine = "fused"

    def norm_rows(self, A, gain, bias, gates, MU, RS):
        out = torch.empty_like(A)
        fused.load(self.source).norm_forward(A, _c(gain), _c(bias), gates, EPS, out, MU, RS)
        return out

    def gain_grad(self, grad, d, A, MU, RS, gates):
        fused.load(self.source).norm_backward(d.contiguous(), A.contiguous(), MU, RS, None, gates, None, grad)

    def norm_rows_backward(self, d, A, MU, RS, gain, grad, gates):
        dA = torch.empty_like(A)
        fused.load(self.source).norm_backward(d.contiguous(), A, MU, RS, _c(gain), gates, dA, grad)
        return dA

    def _t(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """``t.t().contiguous()``, made once per call (a recurrence object lives for one call). Not kept
        between calls: an edit through ``p.data`` changes neither the version nor the data pointer."""
        if t is None:
            return None
        cache = self.__dict__.setdefault("_transposed", [])
        for original, transposed in cache:
            if original is t:
                return transposed
        cache.append((t, t.t().contiguous()))
        return cache[-1][1]


class FusedElman(_Compiled, ElmanRecurrence):
    source = "elman"

    def forward_loop(self, P, Xp, start, Y, norm, sizes, ends, fin):
        W_ih, W_hh, b, g_ih, g_hh = P
        fused.load(self.source).forward(Xp, self._t(W_hh), _c(g_hh), start[0].contiguous(), Y, *norm, sizes, ends,
                                        fin[0], self.tanh, EPS)

    def backward_loop(self, P, Y, saved, dY, carry, dG, DA, sizes, taps):
        W_ih, W_hh, b, g_ih, g_hh = P
        Ai, MUi, RSi, Ah, MUh, RSh = saved
        fused.load(self.source).backward(_c(W_hh), _c(g_hh), Y, Ah, MUh, RSh, dY.contiguous(), carry[0], dG, DA,
                                         sizes, self.tanh)


class FusedLSTM(_Compiled, LSTMRecurrence):
    source = "lstm"

    def forward_loop(self, P, Xp, start, Y, bufs, sizes, ends, fin):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, Ah, MUh, RSh, MUc, RSc = bufs
        fused.load(self.source).forward(Xp, self._t(W_hh), self._t(W_hr), _c(g_hh), _c(g_c), _c(b_c),
                                        start[0].contiguous(), S, G, TC, C, M, Y, Ah, MUh, RSh, MUc, RSc, sizes, ends,
                                        *fin, EPS)

    def backward_loop(self, P, Y, saved, dY, carry, dG, DH, DA, DP, sizes, taps):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, Ai, MUi, RSi, Ah, MUh, RSh, MUc, RSc = saved
        fused.load(self.source).backward(_c(W_hh), _c(W_hr), _c(g_hh), _c(g_c), S, G, TC, C, Ah, MUh, RSh, MUc,
                                         RSc, dY.contiguous(), *carry, dG, DH, DA, DP, sizes)


class FusedGRU(_Compiled, GRURecurrence):
    source = "gru"

    def forward_loop(self, P, Xp, start, Y, bufs, sizes, ends, fin):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        RZ, N, GH, Ah, MUh, RSh = bufs
        fused.load(self.source).forward(Xp, self._t(W_hh), _c(b_hh), _c(g_hh), start[0].contiguous(), RZ, N, GH, Y,
                                        Ah, MUh, RSh, sizes, ends, fin[0], EPS)

    def backward_loop(self, P, Y, start, saved, dY, carry, dXp, dGH, DA, sizes, taps):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        RZ, N, GH, Ai, MUi, RSi, Ah, MUh, RSh = saved
        fused.load(self.source).backward(_c(W_hh), _c(g_hh), RZ, N, GH, Y, start[0].contiguous(), Ah, MUh, RSh,
                                         dY.contiguous(), carry[0], dXp, dGH, DA, sizes)


FAMILIES = ((LSTMCell, FusedLSTM), (GRUCell, FusedGRU), (ElmanCell, FusedElman))


def unsupported(cell, dtype: torch.dtype) -> str | None:
    """Why this engine cannot run ``cell`` on ``dtype`` (building its kernel if needed), or None if it can."""
    family = family_of(cell, FAMILIES)
    if family is None:
        return (f"fused has compiled loops for ElmanCell, LSTMCell and GRUCell only, "
                f"not {type(cell).__name__}")
    if dtype not in DTYPES:
        return f"fused runs float32 and float64, not {dtype}"
    device = getattr(cell, "weight_hh").device
    if device.type != "cpu":
        return f"fused runs on the CPU, not {device.type}"
    return fused.missing(family.source)


def run(cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None, reverse: bool = False,
        checkpoint_every: int | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state`` with the compiled loops; bptt's meaning."""
    reason = unsupported(cell, x.dtype)
    if reason is not None:
        raise ValueError(f"engine 'fused' cannot run this request: {reason}")
    return run_family(family_of(cell, FAMILIES)(cell), cell, x, state, lengths, reverse, checkpoint_every, None)


SMALL_ROWS = 4  # loop.h's SMALL_ROWS: rows per step multiplied in registers rather than through BLAS
PARALLEL_MACS = 1 << 18  # loop.h's PARALLEL_MACS: multiply-adds per step from which products use every thread


def describe(cell, steps: int, batch: int, device, options: dict) -> str:
    """How the fused engine runs a call: which compiled loop, and how each step multiplies."""
    family = family_of(cell, FAMILIES)
    if family is None:
        return "fused cannot run this cell"
    if batch <= SMALL_ROWS:
        product = f"{batch} row(s) per step multiplied in registers (no BLAS call)"
    else:
        macs = cell.weight_hh.shape[0] * cell.weight_hh.shape[1] * batch
        threads = torch.get_num_threads() if macs >= PARALLEL_MACS else 1
        packed = "packed " if cell.weight_hh.dtype == torch.float32 else ""
        product = f"{batch} rows per step through MKL's {packed}GEMM on {threads} thread(s)"
    k = options.get("checkpoint_every")
    memory = f", states kept every {k} steps and recomputed in backward" if k else ""
    return f"{steps} steps of the compiled loop {family.source}.cpp; {product}{memory}"
