"""Helpers for recurrent states: a tensor or a tuple of tensors, each with the batch in dim 0.

One structure per cell (see :mod:`rnnkit.cells`); these functions keep it, so code that
handles states never asks which of the two it holds::

    parts(state)            -> (s_0, s_1, ...)          every state as a tuple of tensors
    rebuild(like, parts)    -> state shaped like ``like``
    map_state(fn, state)    -> fn applied to every part
    detach(state)           -> the parts detached (None stays None)
    select(alive, new, old) -> per sample: ``new`` where ``alive`` (B,) else ``old``
    flatten(state)          -> (..., S) the parts concatenated along the last dim
    split(flat, like)       -> (..., S) cut back into ``like``'s structure
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple, Union

import torch

State = Union[torch.Tensor, Tuple[torch.Tensor, ...]]


def parts(state: State) -> tuple[torch.Tensor, ...]:
    """The state's tensors as a tuple (a single tensor gives a 1-tuple)."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def rebuild(like: State, pieces: Sequence[torch.Tensor]) -> State:
    """``pieces`` in the structure of ``like``: a tensor for a tensor state, else a tuple."""
    return pieces[0] if isinstance(like, torch.Tensor) else tuple(pieces)


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: State) -> State:
    """``fn`` applied to every tensor of ``state``; the structure is kept."""
    if isinstance(state, torch.Tensor):
        return fn(state)
    return tuple(fn(s) for s in state)


def detach(state: State | None) -> State | None:
    """``state`` with every tensor detached from the graph; None stays None."""
    return None if state is None else map_state(torch.Tensor.detach, state)


def select(alive: torch.Tensor, new: State, old: State) -> State:
    """Per sample: ``new`` where ``alive`` (B,) is True, else ``old``."""
    def pick(n: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        return torch.where(alive.view(-1, *([1] * (n.dim() - 1))), n, o)
    if isinstance(new, torch.Tensor):
        return pick(new, old)
    return tuple(pick(n, o) for n, o in zip(new, old))


def flatten(state: State) -> torch.Tensor:
    """(..., S): the parts concatenated along their last dim (S = the sum of their sizes)."""
    return torch.cat(state, dim=-1) if isinstance(state, tuple) else state


def split(flat: torch.Tensor, like: State) -> State:
    """Inverse of :func:`flatten`: ``flat`` (..., S) cut into the parts' sizes of ``like``."""
    if isinstance(like, torch.Tensor):
        return flat
    return tuple(flat.split([s.shape[-1] for s in like], dim=-1))
