"""MinGRU and MinLSTM layers: stacks of the parallel-scan cells with torch.nn.GRU's conventions.

They take torch.nn.GRU's arguments (there is no torch.nn counterpart to be a drop-in
for) and return what it returns: ``output, h_n`` with ``h_n`` (L*D, B, H). Extras are
keyword-only: ``engine``, ``scan_mode``, ``activation``, ``init``.
"""
from __future__ import annotations

from functools import partial

from rnnkit._checks import check_bool, check_choice, check_size
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels.scan import MODES
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.rnn import torch_repr


class _MinLayer(Recurrent):
    """The shared set-up: validation, the cells, the scan's options, repr."""

    cell_class: type = MinGRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, engine: str = "auto", scan_mode: str | None = None,
                 activation: str = "g", init=None) -> None:
        owner = type(self).__name__
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.bias = check_bool(owner, "bias", bias)
        self.scan_mode = None if scan_mode is None else check_choice(owner, "scan_mode", scan_mode, MODES)
        self.activation = activation
        self.proj_size = 0
        factory = partial(self.cell_class, hidden_size=self.hidden_size, bias=self.bias, activation=activation,
                          device=device, dtype=dtype)
        super().__init__(factory, input_size, num_layers, bidirectional=bidirectional, batch_first=batch_first,
                         dropout=dropout, engine=engine, init=init)

    def engine_options(self) -> dict:
        """The scan's form (``scan_mode``; None: chosen per call), passed to the engine."""
        return {"scan_mode": self.scan_mode}

    def extra_repr(self) -> str:
        s = torch_repr(self)
        if self.activation != "g":
            s += f", activation={self.activation!r}"
        if self.engine != "auto":
            s += f", engine={self.engine!r}"
        if self.scan_mode is not None:
            s += f", scan_mode={self.scan_mode!r}"
        return s


class MinGRU(_MinLayer):
    r"""Stacked, optionally bidirectional minGRU (Feng et al. 2024; see :class:`rnnkit.cells.MinGRUCell`):
    ``h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ g(W_h x_t + b_h)``, ``z_t = σ(W_z x_t + b_z)``.

    The gate and candidate read only ``x_t``, so training runs in parallel over time
    (engine ``scan``); a one-step call with a carried state gives the same numbers, which
    is what generation uses.

    Args (as torch.nn.GRU): input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None.
    Keyword-only: engine='auto' ('scan' or 'reference'), scan_mode=None (one of
    ``rnnkit.kernels.scan.MODES``; None picks per call), activation='g' or 'identity', init=None.

    Inputs: ``input`` (T, B, I) / (B, T, I) / (T, I) / PackedSequence, ``hx`` (L*D, B, H);
    keyword ``lengths`` (B,). Outputs: ``output`` (T, B, D*H), ``h_n`` (L*D, B, H).

    Parameters: ``weight_ih_l{k}`` (2H, I or D*H), ``bias_ih_l{k}`` (2H,), rows z then h;
    ``..._reverse`` for the backward direction.

    Example::

        >>> net = MinGRU(10, 20, 2)
        >>> output, h_n = net(torch.randn(5, 3, 10))   # output (5, 3, 20), h_n (2, 3, 20)
    """

    cell_class = MinGRUCell


class MinLSTM(_MinLayer):
    r"""Stacked, optionally bidirectional minLSTM (Feng et al. 2024; see :class:`rnnkit.cells.MinLSTMCell`):
    ``h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ g(W_h x_t + b_h)`` with the gates normalised to ``f' + i' = 1``.

    Arguments, inputs and outputs as :class:`MinGRU` (the state is ``h`` alone: no cell state).
    Parameters: ``weight_ih_l{k}`` (3H, ·), ``bias_ih_l{k}`` (3H,), rows f, i, h.

    Example::

        >>> net = MinLSTM(10, 20, bidirectional=True, batch_first=True)
        >>> output, h_n = net(torch.randn(3, 5, 10))   # output (3, 5, 40), h_n (2, 3, 20)
    """

    cell_class = MinLSTMCell
