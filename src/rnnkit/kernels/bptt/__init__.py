"""The bptt engine: hand-written backpropagation through time for the built-in cells.

``run`` has the reference engine's signature and meaning (see
:mod:`rnnkit.kernels.reference`) plus ``checkpoint_every=k``, which keeps only every
k-th state in forward and recomputes the rest in backward (memory ~ T/k + k).

It can record (``record=``, see :mod:`rnnkit.kernels.record`): the forward computes
every state anyway, and the hand-written backward walks every state gradient.
"""
from __future__ import annotations

import torch

from rnnkit._state import State
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.cells.base import runs_as
from rnnkit.kernels.bptt.driver import BPTTFunction, inference_segment
from rnnkit.kernels.bptt.elman import ElmanRecurrence
from rnnkit.kernels.bptt.gru import GRURecurrence
from rnnkit.kernels.bptt.lstm import LSTMRecurrence
from rnnkit.kernels.record import Recorder, Recording, hold_after_end
from rnnkit.kernels.reference import autocast_dtype, reverse_time, working_dtype, zero_padding

FAMILIES = ((LSTMCell, LSTMRecurrence), (GRUCell, GRURecurrence), (ElmanCell, ElmanRecurrence))
DTYPES = (torch.float32, torch.float64)


def family_of(cell, families=FAMILIES):
    """The recurrence class of ``families`` ((cell class, recurrence) pairs) whose cell ``cell`` runs as, or None."""
    for base, family in families:
        if runs_as(cell, base):
            return family
    return None


def unsupported(cell, dtype: torch.dtype) -> str | None:
    """Why this engine cannot run ``cell`` on ``dtype``, or None if it can."""
    if family_of(cell) is None:
        return (f"bptt has hand-written gradients for ElmanCell, LSTMCell and GRUCell only, "
                f"not {type(cell).__name__}")
    if dtype not in DTYPES:
        return f"bptt runs float32 and float64, not {dtype}"
    return None


def run(cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None, reverse: bool = False,
        checkpoint_every: int | None = None, *, record: Recorder | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state`` with hand-written BPTT."""
    reason = unsupported(cell, working_dtype(cell, x))
    if reason is not None:
        raise ValueError(f"engine 'bptt' cannot run this request: {reason}")
    return run_family(family_of(cell)(cell), cell, x, state, lengths, reverse, checkpoint_every, record)


def run_family(rec, cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None, reverse: bool,
               checkpoint_every: int | None, record: Recorder | None) -> tuple[torch.Tensor, State]:
    """Run the recurrence ``rec`` of ``cell`` (a :class:`Recurrence`) through the shared driver: batch order
    by length, reverse, segments; recordings name ``rec.engine``."""
    T, B = x.shape[0], x.shape[1]
    states = tuple(s.contiguous() for s in (state if isinstance(state, tuple) else (state,)))
    if lengths is not None and bool((lengths == T).all()):
        lengths = None
    T_live = T
    if lengths is not None:
        x = zero_padding(x, lengths)
        T_live = int(lengths.max())  # steps past every sequence's end produce zeros only
    if reverse:
        x = reverse_time(x, lengths)
    tap = None if record is None else _Tap(record, Recording(cell, x, lengths, reverse, (), isinstance(state, tuple),
                                                             rec.engine))
    order = inverse = None
    if lengths is None:
        sizes = [B] * T
    else:
        # longest first, so the live sequences at step t are exactly the first n_t rows
        sorted_lengths, order = torch.sort(lengths, descending=True, stable=True)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(B)
        sizes = (torch.arange(T_live).unsqueeze(1) < sorted_lengths).sum(1).tolist()
        order_d, inverse = order.to(x.device), inverse.to(x.device)
        x = x[:T_live].index_select(1, order_d)  # (T_live, B, I) sorted by length
        states = tuple(s.index_select(0, order_d) for s in states)
        if tap is not None:
            tap.inverse = inverse
    P = rec.params(cell)
    rec.cell = cell  # a double backward recomputes through the cell's own math
    if checkpoint_every is None and tap is None:
        checkpoint_every = inference_segment(x, (x, *states, *P))
    cast = autocast_dtype(x)
    if cast is None:
        Y, *finals = BPTTFunction.apply(rec, sizes, checkpoint_every, cell.output_size, tap, x, *states, *P)
    else:  # as autocast runs torch.nn's RNNs: inputs, state and weights cast to its dtype, one dtype throughout
        x, states = x.to(cast), tuple(s.to(cast) for s in states)
        P = tuple(None if p is None else p.to(cast) for p in P)
        with torch.autocast(x.device.type, enabled=False):
            Y, *finals = BPTTFunction.apply(rec, sizes, checkpoint_every, cell.output_size, tap, x, *states, *P)
    if order is not None:
        Y = Y.index_select(1, inverse)
        finals = [f.index_select(0, inverse) for f in finals]
        if T_live < T:
            Y = torch.cat([Y, Y.new_zeros(T - T_live, *Y.shape[1:])])  # (T, B, R)
    if reverse:
        Y = reverse_time(Y, lengths)
    return Y, (tuple(finals) if isinstance(state, tuple) else finals[0])


class _Tap:
    """Turns the Function's per-step states and state gradients (sorted by length, T_live steps)
    into the call's Recording: the caller's batch order, T steps, held past each end."""

    def __init__(self, record: Recorder, recording: Recording) -> None:
        self.record, self.recording, self.inverse = record, recording, None

    def _caller_order(self, stack: torch.Tensor, steps: int) -> torch.Tensor:
        """(n, B, S) sorted -> (steps, B, S) in the caller's batch order, zeros after the first n steps."""
        if self.inverse is not None:
            stack = stack.index_select(1, self.inverse)
        if stack.shape[0] < steps:
            stack = torch.cat([stack, stack.new_zeros(steps - stack.shape[0], *stack.shape[1:])])
        return stack

    def forward(self, start: tuple, made: tuple) -> None:
        """``start`` per part (B, S_j) and ``made`` per part (T_live, B, S_j) -> the recorded h_0 .. h_T."""
        T, lengths = self.recording.length, self.recording.lengths
        stacks = (torch.cat([s.unsqueeze(0), m]) for s, m in zip(start, made))  # (T_live + 1, B, S_j)
        self.recording.state_parts = tuple(hold_after_end(self._caller_order(s, T + 1), lengths) for s in stacks)
        self.record.add(self.recording)

    def backward(self, grads: tuple) -> None:
        """Per part (T_live, B, S_j) dL/dh_t, zero where a sequence has ended -> the recorded gradients."""
        self.recording.grad_parts = tuple(self._caller_order(g, self.recording.length) for g in grads)
