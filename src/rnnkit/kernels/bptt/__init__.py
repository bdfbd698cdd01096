"""The bptt engine: hand-written backpropagation through time for the built-in cells.

``run`` has the reference engine's signature and meaning (see
:mod:`rnnkit.kernels.reference`) plus ``checkpoint_every=k``, which keeps only every
k-th state in forward and recomputes the rest in backward (memory ~ T/k + k).
"""
from __future__ import annotations

import torch

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.cells.base import State
from rnnkit.kernels.bptt.driver import BPTTFunction
from rnnkit.kernels.bptt.elman import ElmanRecurrence
from rnnkit.kernels.bptt.gru import GRURecurrence
from rnnkit.kernels.bptt.lstm import LSTMRecurrence
from rnnkit.kernels.reference import reverse_time, zero_padding

FAMILIES = ((LSTMCell, LSTMRecurrence), (GRUCell, GRURecurrence), (ElmanCell, ElmanRecurrence))
DTYPES = (torch.float32, torch.float64)


def _family(cell):
    for base, family in FAMILIES:
        if isinstance(cell, base) and type(cell).step is base.step:
            return family
    return None


def unsupported(cell, dtype: torch.dtype) -> str | None:
    """Why this engine cannot run ``cell`` on ``dtype``, or None if it can."""
    if _family(cell) is None:
        return (f"bptt has hand-written gradients for ElmanCell, LSTMCell and GRUCell only, "
                f"not {type(cell).__name__}")
    if dtype not in DTYPES:
        return f"bptt runs float32 and float64, not {dtype}"
    return None


def run(cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None, reverse: bool = False,
        checkpoint_every: int | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state`` with hand-written BPTT."""
    reason = unsupported(cell, x.dtype)
    if reason is not None:
        raise ValueError(f"engine 'bptt' cannot run this request: {reason}")
    rec = _family(cell)(cell)
    T, B = x.shape[0], x.shape[1]
    states = state if isinstance(state, tuple) else (state,)
    if lengths is not None and bool((lengths == T).all()):
        lengths = None
    T_live = T
    if lengths is not None:
        x = zero_padding(x, lengths)
        T_live = int(lengths.max())  # steps past every sequence's end produce zeros only
    if reverse:
        x = reverse_time(x, lengths)
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
    Y, *finals = BPTTFunction.apply(rec, sizes, checkpoint_every, cell.output_size, x, *states, *rec.params(cell))
    if order is not None:
        Y = Y.index_select(1, inverse)
        finals = [f.index_select(0, inverse) for f in finals]
        if T_live < T:
            Y = torch.cat([Y, Y.new_zeros(T - T_live, *Y.shape[1:])])  # (T, B, R)
    if reverse:
        Y = reverse_time(Y, lengths)
    return Y, (tuple(finals) if isinstance(state, tuple) else finals[0])
