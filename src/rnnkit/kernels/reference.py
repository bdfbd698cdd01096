"""The reference engine: a plain Python loop over time with autograd.

It is the oracle every other engine is tested against, and it runs any
:class:`rnnkit.cells.Cell`, including cells users write themselves.

Contract shared by every engine::

    run(cell, x, state, lengths=None, reverse=False) -> (outputs, final_state)

- ``x`` (T, B, I), time-major; ``state`` the cell's state structure, batch in dim 0.
- ``lengths`` (B,) int64 on the CPU, each in [1, T], or None for all T.
  Outputs past a sequence's end are zero; its final state is taken at its own last step.
- ``reverse=True`` runs each sequence backwards within its own length; outputs stay
  aligned with the input positions (``outputs[t]`` belongs to ``x[t]``).
- Returns ``outputs`` (T, B, cell.output_size) and the final state.

Arguments are validated by the layers (the public boundary), not here.

This engine can record (``record=``, see :mod:`rnnkit.kernels.record`): every state stays
in the autograd graph anyway, and a tensor hook on each new state stores its gradient.
"""
from __future__ import annotations

from functools import partial

import torch

from rnnkit._state import State, parts, select
from rnnkit.cells.base import Cell
from rnnkit.kernels.record import Recorder, Recording


def reverse_index(lengths: torch.Tensor, T: int, device) -> torch.Tensor:
    """(T, B) time index that reverses each sequence within its length; an involution."""
    t = torch.arange(T).unsqueeze(1)  # (T, 1)
    L = lengths.unsqueeze(0)  # (1, B)
    return torch.where(t < L, L - 1 - t, t).to(device)  # (T, B)


def time_gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``out[t, b] = x[index[t, b], b]`` for x (T, B, F) and index (T, B)."""
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


def reverse_time(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse (T, B, F) along time, each sequence within its own length."""
    if lengths is None:
        return x.flip(0)
    return time_gather(x, reverse_index(lengths, x.shape[0], x.device))


def zero_padding(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` (T, B, F) with every step past a sequence's end set to 0, so padding (even NaN)
    never reaches a weight gradient through a zero-times-padding product."""
    past_end = (torch.arange(x.shape[0]).unsqueeze(1) >= lengths).to(x.device)  # (T, B)
    return x.masked_fill(past_end.unsqueeze(-1), 0)


def run(cell: Cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None,
        reverse: bool = False, *, record: Recorder | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state``; see the module docstring."""
    T = x.shape[0]
    if lengths is not None and bool((lengths == T).all()):
        lengths = None  # every sequence is full: no masking needed
    if lengths is not None:
        x = zero_padding(x, lengths)
    if reverse:
        x = reverse_time(x, lengths)
    alive_at = None if lengths is None else (torch.arange(T).unsqueeze(1) < lengths).to(x.device)  # (T, B)
    outputs = []
    kept, made = ([state], []) if record is not None else (None, None)  # states carried, and as each step made them
    for t in range(T):
        y, new_state = cell.step(x[t], state)
        if made is not None:
            made.append(new_state)
        if alive_at is None:
            state = new_state
        else:
            state = select(alive_at[t], new_state, state)
            y = torch.where(alive_at[t].unsqueeze(1), y, torch.zeros_like(y))
        if kept is not None:
            kept.append(state)
        outputs.append(y)
    out = torch.stack(outputs)  # (T, B, Y)
    if reverse:
        out = reverse_time(out, lengths)
    if record is not None:
        _record(record, cell, x, lengths, reverse, kept, made)
    return out, state


def _record(record: Recorder, cell: Cell, x: torch.Tensor, lengths, reverse: bool, kept: list, made: list) -> None:
    """Add the Recording of this call; hooks on the states as the steps made them store dL/dh_t in backward."""
    stacks = tuple(torch.stack([parts(s)[j].detach() for s in kept]) for j in range(len(parts(kept[0]))))
    recording = record.add(Recording(cell, x, lengths, reverse, stacks, isinstance(kept[0], tuple), "reference"))
    # The new state as the step made it (not after holding finished sequences): its gradient sums the
    # output's and the next step's; past a sequence's end both are zero.
    for t, new_state in enumerate(made):
        for j, part in enumerate(parts(new_state)):
            if part.requires_grad:
                part.register_hook(partial(recording.write_grad, t, j))


def autocast_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The dtype autocast runs recurrent layers in on ``x``'s device (bfloat16 on the CPU by default), or None
    when it is off."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None


def working_dtype(cell, x: torch.Tensor) -> torch.dtype:
    """The dtype a call runs in: ``x``'s, or under autocast its weights' (a layer's input may then come in
    autocast's dtype, and the engine casts everything to that one)."""
    return x.dtype if autocast_dtype(x) is None else cell.weight_hh.dtype


def under_transform() -> bool:
    """Whether a torch.func transform (grad, jacrev, jacfwd, vmap, ...) is running. Under one, every
    engine gives way to the reference engine: its plain torch ops are what those transforms can
    transform and batch (torch.nn's own fused RNN kernels have no batching rule), and its numbers
    are every engine's to rounding."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)  # torch >= 2.0
    return bool(active is not None and active())


def legacy_batched(*tensors) -> bool:
    """Whether a tensor is batched by torch's older vmap (the one ``gradcheck(check_batched_grad=True)`` uses)."""
    test = getattr(torch._C._functorch, "is_legacy_batchedtensor", None)
    return test is not None and any(t is not None and test(t) for t in tensors)


def batched(*tensors) -> bool:
    """Whether ``tensors`` are (or may be) batched by a vmap, new or old: then only plain torch ops may touch
    them (no ``out=``, no writes into a preallocated tensor)."""
    return under_transform() or legacy_batched(*tensors)
