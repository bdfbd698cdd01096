"""The triton engine: the bptt engine with each time loop a persistent Triton kernel (``elman.py``,
``lstm.py``, ``gru.py``).

As with the fused engine (:mod:`rnnkit.kernels.fused.recurrent`), everything but the per-step
loops is the bptt engine's own: the batch sorted by length, reverse, ``checkpoint_every``
segments, the whole-segment input products, layer norm of ``W_ih x`` and every weight gradient
as single large products. Each family subclasses bptt's recurrence and replaces its
``forward_loop`` and ``backward_loop`` with one kernel launch per segment.

It runs on CUDA devices; on the CPU only under Triton's interpreter (``TRITON_INTERPRET=1``,
how the tests check it). It does not record per-step gradients (``record=``).
Importing this module does not import Triton; the first call does.
"""
from __future__ import annotations

import importlib
import os

import torch

from rnnkit._state import State
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.cells._norm import EPS
from rnnkit.kernels.bptt import family_of, run_family
from rnnkit.kernels.bptt.elman import ElmanRecurrence
from rnnkit.kernels.bptt.gru import GRURecurrence
from rnnkit.kernels.bptt.lstm import LSTMRecurrence

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
MAX_WIDTH = 1024  # hidden units (and projections): the kernels hold a whole row of the state in registers


def _kernels(name: str):
    return importlib.import_module(f"rnnkit.kernels.triton.{name}")


def _steps(sizes, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(sizes, dtype=torch.int32, device=like.device)


def _c(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.contiguous()


class _Persistent:
    """What the three families share: the engine's name."""

    engine = "triton"


class TritonElman(_Persistent, ElmanRecurrence):
    def forward_loop(self, P, Xp, start, Y, norm, sizes, ends, fin):
        W_ih, W_hh, b, g_ih, g_hh = P
        _kernels("elman").forward(Xp, _c(W_hh), _c(g_hh), start[0].contiguous(), Y, *norm,
                                  _steps(sizes, Xp), _steps(ends, Xp), fin[0], self.tanh, EPS)

    def backward_loop(self, P, Y, saved, dY, carry, dG, DA, sizes, taps):
        W_ih, W_hh, b, g_ih, g_hh = P
        Ai, MUi, RSi, Ah, MUh, RSh = saved
        _kernels("elman").backward(_c(W_hh), _c(g_hh), Y, Ah, MUh, RSh, dY.contiguous(), carry[0], dG, DA,
                                   _steps(sizes, Y), self.tanh)


class TritonLSTM(_Persistent, LSTMRecurrence):
    def forward_loop(self, P, Xp, start, Y, bufs, sizes, ends, fin):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        _kernels("lstm").forward(Xp, _c(W_hh), _c(W_hr), _c(g_hh), _c(g_c), _c(b_c), start[0].contiguous(), Y,
                                 bufs, _steps(sizes, Xp), _steps(ends, Xp), fin, EPS)

    def backward_loop(self, P, Y, saved, dY, carry, dG, DH, DA, DP, sizes, taps):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        _kernels("lstm").backward(_c(W_hh), _c(W_hr), _c(g_hh), _c(g_c), saved, dY.contiguous(), carry,
                                  (dG, DH, DA, DP), _steps(sizes, Y))


class TritonGRU(_Persistent, GRURecurrence):
    def forward_loop(self, P, Xp, start, Y, bufs, sizes, ends, fin):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        _kernels("gru").forward(Xp, _c(W_hh), _c(b_hh), _c(g_hh), start[0].contiguous(), Y, bufs,
                                _steps(sizes, Xp), _steps(ends, Xp), fin[0], EPS)

    def backward_loop(self, P, Y, start, saved, dY, carry, dXp, dGH, DA, sizes, taps):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        _kernels("gru").backward(_c(W_hh), _c(g_hh), Y, start[0].contiguous(), saved, dY.contiguous(), carry[0],
                                 dXp, dGH, DA, _steps(sizes, Y))


FAMILIES = ((LSTMCell, TritonLSTM), (GRUCell, TritonGRU), (ElmanCell, TritonElman))


def interpreting() -> bool:
    """Whether Triton runs kernels through its CPU interpreter in this process."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def unsupported(cell, dtype: torch.dtype) -> str | None:
    """Why this engine cannot run ``cell`` on ``dtype``, or None if it can."""
    from rnnkit.kernels.triton import missing

    if family_of(cell, FAMILIES) is None:
        return f"triton has kernels for ElmanCell, LSTMCell and GRUCell only, not {type(cell).__name__}"
    if dtype not in DTYPES:
        return f"triton runs float32, float64, bfloat16 and float16, not {dtype}"
    widths = (cell.hidden_size, getattr(cell, "proj_size", 0) or 0)
    if max(widths) > MAX_WIDTH:
        return f"triton keeps a whole state row in registers: hidden size up to {MAX_WIDTH}, not {max(widths)}"
    device = cell.weight_hh.device
    if device.type != "cuda" and not (device.type == "cpu" and interpreting()):
        return (f"triton runs on CUDA devices (on the CPU only under TRITON_INTERPRET=1, for tests), "
                f"not {device.type}")
    return missing()


def run(cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None, reverse: bool = False,
        checkpoint_every: int | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state`` with the persistent kernels; bptt's meaning."""
    reason = unsupported(cell, x.dtype)
    if reason is not None:
        raise ValueError(f"engine 'triton' cannot run this request: {reason}")
    return run_family(family_of(cell, FAMILIES)(cell), cell, x, state, lengths, reverse, checkpoint_every, None)


def describe(cell, steps: int, batch: int, device, options: dict) -> str:
    """How the triton engine runs a call: programs, and what each step does."""
    from rnnkit.kernels.triton.common import BLOCK_B

    programs = -(-batch // BLOCK_B)
    k = options.get("checkpoint_every")
    memory = f", states kept every {k} steps and recomputed in backward" if k else ""
    return (f"{steps} steps in one persistent kernel launch per segment: {programs} program(s) of {BLOCK_B} rows, "
            f"each step one recurrent product and the cell's pointwise math in registers{memory}")
