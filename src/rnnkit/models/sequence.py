r"""A per-step sequence head: recurrent stack then a linear read-out at every step.

.. math::  h^{(1..L)}_t = \mathrm{RNN}(x_t, h_{t-1}),\qquad \hat y_t = W_o h^{(L)}_t + b_o

Shapes: x (T, B, I) -> output (T, B, O); the state is the layer's ``hx`` structure
((L*D, B, H) for RNN/GRU, a pair of them for LSTM). ``resets`` (T, B) bool zeroes a
sample's state just before the step where a new sequence starts (streamed TBPTT), see
:func:`run_with_resets`.
"""
from __future__ import annotations

import torch
from torch import nn

from rnnkit._checks import check_choice, check_size
from rnnkit._state import map_state
from rnnkit.layers import GRU, LSTM, RNN, MinGRU, MinLSTM, Recurrent

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU, "mingru": MinGRU, "minlstm": MinLSTM}
CELLS = ("rnn", "tanh", "relu", "lstm", "gru", "mingru", "minlstm")  # SequenceModel's cells: "rnn" is tanh Elman


def run_with_resets(layer: nn.Module, x: torch.Tensor, state=None, resets: torch.Tensor | None = None):
    """Run ``layer`` over ``x`` (T, B, I), zeroing a sample's state just before each step where ``resets``
    (T, B) bool marks the start of a new sequence -> (output (T, B, ·), final state).

    The sequence is cut where any sample resets; each piece runs as one layer call from the
    previous piece's final state with the resetting samples' state set to 0.
    """
    if resets is None or not bool(resets.any()):
        return layer(x, state)
    cuts = sorted({0, *resets.any(dim=1).nonzero().flatten().tolist(), x.shape[0]})
    outs = []
    for start, stop in zip(cuts[:-1], cuts[1:]):
        if state is not None:
            keep = (~resets[start]).to(x.dtype)[None, :, None]  # (1, B, 1) over (L*D, B, H)
            state = map_state(lambda s: s * keep, state)
        out, state = layer(x[start:stop], state)
        outs.append(out)  # (stop - start, B, ·)
    return torch.cat(outs), state


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int, **kw) -> Recurrent:
    """The layer of one of ``CELLS`` ("rnn"/"tanh" and "relu" are Elman RNNs with that nonlinearity)."""
    if cell in ("rnn", "tanh", "relu"):
        return RNN(input_size, hidden_size, num_layers, nonlinearity="tanh" if cell == "rnn" else cell, **kw)
    if cell in ("mingru", "minlstm"):
        radius = kw.pop("spectral_radius", None)
        if radius is not None:
            raise ValueError(f"SequenceModel: expected spectral_radius=None for cell {cell!r}, whose recurrence is "
                             f"element-wise (no recurrent matrix to scale), got {radius}")
    return LAYERS[cell](input_size, hidden_size, num_layers, **kw)


class SequenceModel(nn.Module):
    """Recurrent stack (``rnnkit.RNN``/``LSTM``/``GRU``/``MinGRU``/``MinLSTM``) and a linear read-out per step.

    Args:
        cell: ``"rnn"`` or ``"tanh"`` (tanh Elman), ``"relu"`` (ReLU Elman), ``"lstm"``, ``"gru"``, or the
            parallel-scan ``"mingru"`` / ``"minlstm"``.
        input_size: I. hidden_size: H. output_size: O. num_layers: L.
        engine: engine name passed to the layer (``rnnkit.kernels.ENGINE_NAMES``).
        init: initialisation name or callable passed to the layer (``None`` = torch.nn's).
        bidirectional: a reverse direction per layer (D = 2); the read-out sees D*H features.
        spectral_radius: passed to the layer (each recurrent weight block scaled to it).

    :meth:`around` wraps any :class:`rnnkit.Recurrent` instead. The layer is built first,
    then the read-out, so a seed gives the same weights as building them by hand.

    Example::

        >>> model = SequenceModel("lstm", 2, 32, 1)
        >>> y, state = model(torch.randn(100, 8, 2))   # y (100, 8, 1)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1,
                 *, engine: str = "auto", init=None, bidirectional: bool = False,
                 spectral_radius: float | None = None) -> None:
        super().__init__()
        check_choice("SequenceModel", "cell", cell, CELLS)
        check_size("SequenceModel", "output_size", output_size)
        layer = recurrent_layer(cell, input_size, hidden_size, num_layers, engine=engine, init=init,
                                bidirectional=bidirectional, spectral_radius=spectral_radius)
        self._attach(layer, output_size)

    @classmethod
    def around(cls, layer: Recurrent, output_size: int) -> "SequenceModel":
        """A SequenceModel reading out ``layer`` (any :class:`rnnkit.Recurrent`) into ``output_size`` features."""
        if not isinstance(layer, Recurrent):
            raise TypeError(f"SequenceModel.around: expected layer to be an rnnkit.Recurrent, "
                            f"got {type(layer).__name__}")
        check_size("SequenceModel.around", "output_size", output_size)
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model._attach(layer, output_size)
        return model

    def _attach(self, layer: Recurrent, output_size: int) -> None:
        self.rnn = layer
        self.head = nn.Linear(layer.num_directions * layer.cells[-1].output_size, output_size)  # D*H -> O

    def forward(self, x: torch.Tensor, state=None, resets: torch.Tensor | None = None):
        """x (T, B, I), state as the layer's ``hx`` or None, resets (T, B) bool -> (y (T, B, O), state)."""
        out, state = run_with_resets(self.rnn, x, state, resets)
        return self.head(out), state  # (T, B, O)
