"""GRU cell with gates r, z, n in torch.nn's reset-after form."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit._checks import check_bool
from rnnkit.cells._norm import gate_norm, make_gain
from rnnkit.cells.base import Cell


class GRUCell(Cell):
    r"""Gated recurrent unit (Cho et al. 2014), torch.nn.GRU's math (reset applied after W_hn).

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}, \qquad y_t = h_t
        \end{aligned}

    With ``layer_norm=True`` each gate block of ``W_ih x_t`` and ``W_hh h_{t-1}`` is
    layer-normalised before its bias is added (Ba et al. 2016).

    Args:
        input_size: I. hidden_size: H. bias: add ``bias_ih``, ``bias_hh``.
        layer_norm: gains ``ln_weight_ih``, ``ln_weight_hh`` (3H,).

    Shapes: ``x_t`` (B, I), state ``h`` (B, H), ``y_t`` (B, H).

    Attributes:
        weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,); gate rows in
        the order r, z, n; initialised from U(-1/sqrt(H), 1/sqrt(H)).

    Example::

        >>> cell = GRUCell(3, 5)
        >>> y, h = cell(torch.randn(2, 3))
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, layer_norm: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = check_bool("GRUCell", "bias", bias)
        self.layer_norm = check_bool("GRUCell", "layer_norm", layer_norm)
        factory = {"device": device, "dtype": dtype}
        H, I = self.hidden_size, self.input_size
        self.check_fits(3 * H * I + 3 * H * H + 6 * H, factory)
        self.weight_ih = nn.Parameter(torch.empty(3 * H, I, **factory))
        self.weight_hh = nn.Parameter(torch.empty(3 * H, H, **factory))
        self.bias_ih = nn.Parameter(torch.empty(3 * H, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(3 * H, **factory)) if bias else None
        if layer_norm:
            self.ln_weight_ih = make_gain(3 * H, factory)
            self.ln_weight_hh = make_gain(3 * H, factory)
        self.reset_parameters()

    def preactivations(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two pre-activation terms ``gi = W_ih x_t + b_ih`` and ``gh = W_hh h + b_hh``, each (B, 3H),
        rows r, z, n (with layer norm: each gate block normalised before its bias)."""
        if self.layer_norm:
            gi = gate_norm(F.linear(x_t, self.weight_ih), self.ln_weight_ih, 3)  # (B, 3H)
            gh = gate_norm(F.linear(h, self.weight_hh), self.ln_weight_hh, 3)  # (B, 3H)
            if self.bias:
                gi, gh = gi + self.bias_ih, gh + self.bias_hh
            return gi, gh
        return F.linear(x_t, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)  # (B, 3H)

    def gate_activations(self, x_t: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """The activated gates of one step, each (B, H): ``r, z`` sigmoids, ``n`` a tanh."""
        gi, gh = self.preactivations(x_t, h)
        i_r, i_z, i_n = gi.chunk(3, dim=1)  # 3 x (B, H)
        h_r, h_z, h_n = gh.chunk(3, dim=1)  # 3 x (B, H)
        r = torch.sigmoid(i_r + h_r)
        return {"r": r, "z": torch.sigmoid(i_z + h_z), "n": torch.tanh(i_n + r * h_n)}

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gate = self.gate_activations(x_t, h)
        h_new = (1 - gate["z"]) * gate["n"] + gate["z"] * h
        return h_new, h_new

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, layer_norm={self.layer_norm}"
