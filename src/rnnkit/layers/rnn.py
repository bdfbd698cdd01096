"""Drop-in replacements for torch.nn.RNN, torch.nn.LSTM and torch.nn.GRU.

Same constructor arguments (positional order included), parameter names, gate order,
default initialisation (the same seed gives the same weights) and return values.
Extras are keyword-only and default off: ``engine``, ``checkpoint_every``,
``layer_norm``, ``init``, ``spectral_radius``; ``forward`` also takes ``lengths=`` for padded batches.

Each is an instance of its torch.nn counterpart (``isinstance(rnnkit.LSTM(2, 3), nn.LSTM)``), so
code that dispatches on type (init loops, ``nn.RNNBase`` checks, privacy and pruning tools) treats
it as the standard layer. torch.nn's constructor never runs: the weights are rnnkit's cells',
adopted under torch.nn's names, and ``_flat_weights``, ``_flat_weights_names`` and ``all_weights``
list exactly torch.nn's weights in torch.nn's order (a layer norm's gains, rnnkit-only, are not
among them). torch.nn's ``forward`` is never called: rnnkit's engines run every call.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from rnnkit._checks import check_bool, check_choice, check_size
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.cells.elman import NONLINEARITIES
from rnnkit.layers.recurrent import Recurrent


class _TorchLayer(Recurrent):
    """Shared set-up of the three drop-ins: validation, torch.nn's init order, torch.nn's weight lists, repr."""

    def _setup(self, make_cell, input_size, hidden_size, num_layers, bias, batch_first, dropout,
               bidirectional, device, dtype, engine, checkpoint_every, layer_norm, init, spectral_radius) -> None:
        owner = type(self).__name__
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.bias = check_bool(owner, "bias", bias)
        self.layer_norm = check_bool(owner, "layer_norm", layer_norm)
        factory = partial(make_cell, hidden_size=self.hidden_size, bias=self.bias, layer_norm=self.layer_norm,
                          device=device, dtype=dtype)
        # Cells draw their own random weights; reset_parameters then redraws them in
        # torch.nn's order, so this draw must not advance the generator.
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            super().__init__(factory, input_size, num_layers, bidirectional=bidirectional,
                             batch_first=batch_first, dropout=dropout, engine=engine,
                             checkpoint_every=checkpoint_every)
        self.reset_parameters()
        self._initialise(init, spectral_radius)
        # what torch.nn.RNNBase keeps (its __setattr__, _apply, pickling and all_weights read them)
        self._all_weights = [[cell._aliases[n] for n, _ in cell.named_parameters() if not n.startswith("ln_")]
                             for cell in self.cells]  # each cell's parameters under the names the layer gave them
        self._flat_weights_names = [n for names in self._all_weights for n in names]
        self._init_flat_weights()

    def reset_parameters(self) -> None:
        """torch.nn's default, in torch.nn's order: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias."""
        for cell in self.cells:  # layer-major, each cell's parameters in torch.nn's order
            cell.reset_parameters()

    def flatten_parameters(self) -> None:
        """Accepted for compatibility with torch.nn; rnnkit keeps no flat weight buffer."""

    def __prepare_scriptable__(self) -> nn.RNNBase:
        """``torch.jit.script`` scripts :meth:`to_torch`'s layer in this one's place (TorchScript cannot compile
        rnnkit's engine dispatch): torch's kernels, the same numbers; ``lengths=`` is not taken there."""
        return self.to_torch()

    def to_torch(self) -> nn.RNNBase:
        """The torch.nn layer with this layer's settings and a copy of its weights (same device and dtype):
        the same numbers from torch's own kernels (what :func:`rnnkit.quantize_dynamic` quantizes).
        ValueError for a layer norm, which torch.nn's layers do not have."""
        owner = type(self).__name__
        if self.layer_norm:
            raise ValueError(f"{owner}: torch.nn.{owner} has no layer norm, so a layer_norm=True layer has no "
                             f"torch.nn equivalent")
        param = self._flat_weights[0]
        extra = {"nonlinearity": self.nonlinearity} if owner == "RNN" else {}
        if owner == "LSTM":
            extra["proj_size"] = self.proj_size
        layer = getattr(nn, owner)(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                                   batch_first=self.batch_first, dropout=self.dropout,
                                   bidirectional=self.bidirectional, device=param.device, dtype=param.dtype, **extra)
        with torch.no_grad():
            for name in self._flat_weights_names:
                getattr(layer, name).copy_(getattr(self, name))
        return layer.train(self.training)

    def extra_repr(self) -> str:
        s = torch_repr(self)
        if self.layer_norm:
            s += ", layer_norm=True"
        if self.engine != "auto":
            s += f", engine={self.engine!r}"
        if self.checkpoint_every:
            s += f", checkpoint_every={self.checkpoint_every}"
        return s


def torch_repr(layer) -> str:
    """The part of a layer's repr torch.nn would print: sizes, then the arguments not at their defaults."""
    s = f"{layer.input_size}, {layer.hidden_size}"
    if getattr(layer, "proj_size", 0):
        s += f", proj_size={layer.proj_size}"
    if layer.num_layers != 1:
        s += f", num_layers={layer.num_layers}"
    if not layer.bias:
        s += ", bias=False"
    if layer.batch_first:
        s += ", batch_first=True"
    if layer.dropout:
        s += f", dropout={layer.dropout}"
    if layer.bidirectional:
        s += ", bidirectional=True"
    return s


def _cuda_devices(device) -> list:
    device = torch.device(device) if device is not None else torch.get_default_device()
    if device.type == "cuda":
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


def _no_projection(owner: str, proj_size) -> None:
    """torch.nn.RNN/GRU take ``proj_size`` and refuse all but 0 with a ValueError: so do these."""
    if check_size(owner, "proj_size", proj_size, minimum=0):
        raise ValueError(f"{owner}: proj_size is only supported by LSTM, got proj_size={proj_size}")


class RNN(_TorchLayer, nn.RNN):
    r"""Elman RNN, a drop-in for ``torch.nn.RNN``:
    ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` for each layer, act tanh or ReLU.

    Args (as torch.nn.RNN): input_size, hidden_size, num_layers=1, nonlinearity='tanh',
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None.
    Keyword-only extras: engine='auto', checkpoint_every=None, layer_norm=False, init=None,
    spectral_radius=None.

    Inputs: ``input`` (T, B, I) / (B, T, I) / (T, I) / PackedSequence, ``hx`` (L*D, B, H);
    keyword ``lengths`` (B,). Outputs: ``output`` (T, B, D*H), ``h_n`` (L*D, B, H).

    Parameters: ``weight_ih_l{k}`` (H, I or D*H), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,), ``..._reverse`` for the backward direction.

    Example::

        >>> rnn = RNN(10, 20, 2)
        >>> output, h_n = rnn(torch.randn(5, 3, 10), torch.zeros(2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, engine: str = "auto", checkpoint_every: int | None = None,
                 layer_norm: bool = False, init=None,
                 spectral_radius: float | None = None, proj_size: int = 0) -> None:
        _no_projection("RNN", proj_size)
        self.nonlinearity = check_choice("RNN", "nonlinearity", nonlinearity, NONLINEARITIES)
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.proj_size = 0
        self._setup(partial(ElmanCell, nonlinearity=nonlinearity), input_size, hidden_size, num_layers, bias,
                    batch_first, dropout, bidirectional, device, dtype, engine, checkpoint_every, layer_norm, init,
                    spectral_radius)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_TorchLayer, nn.LSTM):
    r"""LSTM, a drop-in for ``torch.nn.LSTM`` (gates i, f, g, o; see :class:`rnnkit.cells.LSTMCell`).

    Args (as torch.nn.LSTM): input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None.
    Keyword-only extras: engine='auto', checkpoint_every=None, layer_norm=False, init=None,
    spectral_radius=None.

    Inputs: ``input``, ``(h_0, c_0)`` with h_0 (L*D, B, P or H) and c_0 (L*D, B, H); keyword
    ``lengths``. Outputs: ``output`` (T, B, D*(P or H)), ``(h_n, c_n)``.

    Parameters: ``weight_ih_l{k}`` (4H, ·), ``weight_hh_l{k}`` (4H, P or H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (4H,), ``weight_hr_l{k}`` (P, H) when proj_size > 0.

    Example::

        >>> lstm = LSTM(10, 20, 2)
        >>> output, (h_n, c_n) = lstm(torch.randn(5, 3, 10))
    """

    _state_names = ("h0", "c0")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None, *, engine: str = "auto", checkpoint_every: int | None = None,
                 layer_norm: bool = False, init=None,
                 spectral_radius: float | None = None) -> None:
        self.proj_size = check_size("LSTM", "proj_size", proj_size, minimum=0)
        hidden = check_size("LSTM", "hidden_size", hidden_size)
        if self.proj_size >= hidden:
            raise ValueError(f"LSTM: expected proj_size < hidden_size ({hidden}), got proj_size={self.proj_size}")
        self.mode = "LSTM"
        self._setup(partial(LSTMCell, proj_size=self.proj_size), input_size, hidden_size, num_layers, bias,
                    batch_first, dropout, bidirectional, device, dtype, engine, checkpoint_every, layer_norm, init,
                    spectral_radius)


class GRU(_TorchLayer, nn.GRU):
    r"""GRU, a drop-in for ``torch.nn.GRU`` (gates r, z, n; see :class:`rnnkit.cells.GRUCell`).

    Args (as torch.nn.GRU): input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None.
    Keyword-only extras: engine='auto', checkpoint_every=None, layer_norm=False, init=None,
    spectral_radius=None.

    Inputs: ``input``, ``hx`` (L*D, B, H); keyword ``lengths``.
    Outputs: ``output`` (T, B, D*H), ``h_n`` (L*D, B, H).

    Parameters: ``weight_ih_l{k}`` (3H, ·), ``weight_hh_l{k}`` (3H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (3H,).

    Example::

        >>> gru = GRU(10, 20, 2, batch_first=True)
        >>> output, h_n = gru(torch.randn(3, 5, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, engine: str = "auto", checkpoint_every: int | None = None,
                 layer_norm: bool = False, init=None,
                 spectral_radius: float | None = None, proj_size: int = 0) -> None:
        _no_projection("GRU", proj_size)
        self.mode = "GRU"
        self.proj_size = 0
        self._setup(GRUCell, input_size, hidden_size, num_layers, bias,
                    batch_first, dropout, bidirectional, device, dtype, engine, checkpoint_every, layer_norm, init,
                    spectral_radius)
