"""Streaming: one time step at a time with the state carried (``layer.step``).

A deployed model, a sampler or a controller sees its input one step at a time. ``step``
runs one step through the same path as ``forward`` (the same engine choice, the same
state layout), so stepping through a sequence gives exactly what ``forward`` over the
whole sequence gives. Bidirectional layers cannot stream: their reverse direction reads
the sequence from its end.
"""
from __future__ import annotations

import torch

from rnnkit._checks import ShapeError, check_tensor


class Streaming:
    """Mixed into :class:`~rnnkit.layers.Recurrent`: :meth:`step`."""

    def step(self, x_t: torch.Tensor, hx=None):
        """One time step: ``x_t`` (B, I), or (I,) unbatched, and ``hx`` as ``forward`` takes it (None: zeros)
        -> ``(y_t (B, D_out), h_n)``, ``h_n`` as ``forward`` returns it, to pass to the next call."""
        owner = type(self).__name__
        if self.bidirectional:
            raise ValueError(f"{owner}: step needs a unidirectional layer; a bidirectional one reads each "
                             f"sequence backwards from its end, so run it with forward over the whole sequence")
        check_tensor(owner, "x_t", x_t)
        if x_t.dim() not in (1, 2):
            raise ShapeError(f"{owner}: expected x_t with 2 dims (B, I) or 1 dim (I,), got shape {tuple(x_t.shape)}")
        out, h_n = self(x_t.unsqueeze(0 if x_t.dim() == 1 or not self.batch_first else 1), hx)
        return (out[0] if x_t.dim() == 1 or not self.batch_first else out[:, 0]), h_n
