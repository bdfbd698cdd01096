"""Recording the per-step states of every rnnkit recurrent layer inside a model.

``with record_states(model) as recorder:`` opens :meth:`Recurrent.recording` on each
:class:`Recurrent` in ``model`` with one shared :class:`~rnnkit.kernels.record.Recorder`;
the model itself is not changed and needs to know nothing about it::

    with record_states(model, fallback=True) as recorder:
        loss = loss_fn(model(x))
    recorder.backward(loss)          # fills every Recording's state_grads, .grad untouched
    recorder.recordings[0].state_grads
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Iterator

import torch

from rnnkit.kernels.record import Recorder
from rnnkit.layers.recurrent import Recurrent


def recurrent_layers(model: torch.nn.Module) -> list[Recurrent]:
    """Every :class:`Recurrent` in ``model`` (``model`` itself included), in module order."""
    return [m for m in model.modules() if isinstance(m, Recurrent)]


@contextmanager
def record_states(model: torch.nn.Module, fallback: bool = False) -> Iterator[Recorder]:
    """Record every engine call of every rnnkit recurrent layer in ``model`` while the block runs.

    ``fallback``: see :meth:`Recurrent.recording`. Raises ``TypeError`` when ``model`` holds
    no rnnkit recurrent layer (``rnnkit.RNN/LSTM/GRU/Recurrent``).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"record_states: expected model to be a torch.nn.Module, got {type(model).__name__}")
    layers = recurrent_layers(model)
    if not layers:
        raise TypeError(f"record_states: expected a model holding an rnnkit recurrent layer "
                        f"(rnnkit.RNN/LSTM/GRU/Recurrent), got {type(model).__name__}, which holds none")
    recorder = Recorder(fallback)
    with ExitStack() as stack:
        for layer in layers:
            stack.enter_context(layer.recording(recorder=recorder))
        yield recorder
