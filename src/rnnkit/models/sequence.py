r"""A per-step sequence head: recurrent stack then a linear read-out at every step.

.. math::  h^{(1..L)}_t = \mathrm{RNN}(x_t, h_{t-1}),\qquad \hat y_t = W_o h^{(L)}_t + b_o

Shapes: x (T, B, I) -> output (T, B, O); the state is the layer's ``hx`` structure
((L, B, H) for RNN/GRU, a pair of them for LSTM). ``resets`` (T, B) bool zeroes a
sample's state just before the step where a new sequence starts (streamed TBPTT).

With ``record_trace = True`` the forward pass steps each layer's cell itself (same
numbers as the layer: unidirectional, no lengths) and keeps the per-step states in
``last_trace``, which the vanishing-gradient penalty needs (:mod:`rnnkit.train.penalty`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnnkit._checks import check_choice, check_size
from rnnkit.cells.base import Cell
from rnnkit.layers import GRU, LSTM, RNN

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@dataclass(frozen=True)
class Trace:
    """What one layer did over a window: its cell, inputs and every state it produced."""

    cell: Cell  # the layer's cell
    inputs: torch.Tensor  # (T, B, I) the layer's inputs
    states: list  # T + 1 states h_0 .. h_T (each a tensor (B, H) or a tuple), h_t as used downstream


def _map(state, fn):
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class SequenceModel(nn.Module):
    """Recurrent stack (``rnnkit.RNN``/``LSTM``/``GRU``) and a linear read-out per step.

    Args:
        cell: ``"rnn"`` (tanh Elman), ``"lstm"`` or ``"gru"``.
        input_size: I. hidden_size: H. output_size: O. num_layers: L.
        engine: engine name passed to the layer (``rnnkit.kernels.ENGINE_NAMES``).
        init: initialisation name or callable passed to the layer (``None`` = torch.nn's).

    Example::

        >>> model = SequenceModel("lstm", 2, 32, 1)
        >>> y, state = model(torch.randn(100, 8, 2))   # y (100, 8, 1)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1,
                 *, engine: str = "auto", init=None) -> None:
        super().__init__()
        check_choice("SequenceModel", "cell", cell, tuple(LAYERS))
        check_size("SequenceModel", "output_size", output_size)
        self.rnn = LAYERS[cell](input_size, hidden_size, num_layers, engine=engine, init=init)
        self.head = nn.Linear(hidden_size, output_size)
        self.record_trace = False  # set True to keep per-step states in last_trace
        self.last_trace: list[Trace] = []

    def forward(self, x: torch.Tensor, state=None, resets: torch.Tensor | None = None):
        """x (T, B, I), state as the layer's ``hx`` or None, resets (T, B) bool -> (y (T, B, O), state)."""
        if self.record_trace:
            out, state = self._stepped(x, state, resets)
        else:
            out, state = self._layered(x, state, resets)
        return self.head(out), state  # (T, B, O)

    def _layered(self, x, state, resets):
        """Run the layer, split where any sample starts a new sequence, zeroing that sample's state."""
        if resets is None or not bool(resets.any()):
            return self.rnn(x, state)
        cuts = sorted({0, *resets.any(dim=1).nonzero().flatten().tolist(), x.shape[0]})
        outs = []
        for start, stop in zip(cuts[:-1], cuts[1:]):
            if state is not None:
                keep = (~resets[start]).to(x.dtype)[None, :, None]  # (1, B, 1) over (L, B, H)
                state = _map(state, lambda s: s * keep)
            out, state = self.rnn(x[start:stop], state)
            outs.append(out)  # (stop - start, B, H)
        return torch.cat(outs), state

    def _stepped(self, x, state, resets):
        """Step every cell by hand, keeping each layer's states for the penalty."""
        T, B = x.shape[:2]
        cells = self.rnn.cells
        if state is None:
            states = [c.init_state(B, x.device, x.dtype) for c in cells]
        else:
            states = [_map(state, lambda s, i=i: s[i]) for i in range(len(cells))]  # (B, H) per layer
        self.last_trace = []
        layer_input = x  # (T, B, I)
        for i, cell in enumerate(cells):
            h = states[i]
            kept, outs = [h], []
            for t in range(T):
                if resets is not None:
                    keep = (~resets[t]).to(x.dtype)[:, None]  # (B, 1)
                    h = _map(h, lambda s: s * keep)
                y, h = cell.step(layer_input[t], h)
                kept.append(h)
                outs.append(y)
            self.last_trace.append(Trace(cell, layer_input, kept))
            states[i] = h
            layer_input = torch.stack(outs)  # (T, B, H)
        final = tuple(torch.stack(parts) for parts in zip(*states)) if isinstance(states[0], tuple) \
            else torch.stack(states)  # (L, B, H)
        return layer_input, final
