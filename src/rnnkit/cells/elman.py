"""Elman cell: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), y_t = h_t."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit._checks import check_bool, check_choice
from rnnkit.cells._norm import gate_norm, make_gain
from rnnkit.cells.base import Cell

NONLINEARITIES = ("tanh", "relu")


class ElmanCell(Cell):
    r"""The simple (Elman) recurrent cell, torch.nn.RNNCell's math.

    .. math::
        h_t = \mathrm{act}(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),\qquad y_t = h_t

    With ``layer_norm=True``: ``act(LN(W_ih x_t) + b_ih + LN(W_hh h_{t-1}) + b_hh)``.

    Args:
        input_size: I. hidden_size: H.
        bias: add ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        layer_norm: normalise both pre-activations (gains ``ln_weight_ih``, ``ln_weight_hh``).

    Shapes: ``x_t`` (B, I), state ``h`` (B, H), ``y_t`` (B, H).

    Attributes:
        weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,), all
        initialised from U(-1/sqrt(H), 1/sqrt(H)).

    Example::

        >>> cell = ElmanCell(3, 5)
        >>> y, h = cell(torch.randn(2, 3))
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 *, layer_norm: bool = False, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = check_bool("ElmanCell", "bias", bias)
        self.nonlinearity = check_choice("ElmanCell", "nonlinearity", nonlinearity, NONLINEARITIES)
        self.layer_norm = check_bool("ElmanCell", "layer_norm", layer_norm)
        factory = {"device": device, "dtype": dtype}
        H, I = self.hidden_size, self.input_size
        self.check_fits(H * I + H * H + 2 * H, factory)
        self.weight_ih = nn.Parameter(torch.empty(H, I, **factory))
        self.weight_hh = nn.Parameter(torch.empty(H, H, **factory))
        self.bias_ih = nn.Parameter(torch.empty(H, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(H, **factory)) if bias else None
        if layer_norm:
            self.ln_weight_ih = make_gain(H, factory)
            self.ln_weight_hh = make_gain(H, factory)
        self.reset_parameters()

    def preactivations(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two pre-activation terms ``W_ih x_t + b_ih`` and ``W_hh h + b_hh``, each (B, H)
        (with layer norm: each normalised before its bias)."""
        if self.layer_norm:
            gi = gate_norm(F.linear(x_t, self.weight_ih), self.ln_weight_ih, 1)  # (B, H)
            gh = gate_norm(F.linear(h, self.weight_hh), self.ln_weight_hh, 1)  # (B, H)
            if self.bias:
                gi, gh = gi + self.bias_ih, gh + self.bias_hh
            return gi, gh
        return F.linear(x_t, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)  # (B, H)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gi, gh = self.preactivations(x_t, h)
        pre = gi + gh
        h_new = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h_new, h_new

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, bias={self.bias}, "
                f"nonlinearity={self.nonlinearity!r}, layer_norm={self.layer_norm}")
