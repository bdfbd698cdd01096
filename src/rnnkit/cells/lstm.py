"""LSTM cell with gates i, f, g, o (torch.nn's order) and an optional projection."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit._checks import check_bool, check_size
from rnnkit.cells._norm import gate_norm, make_gain
from rnnkit.cells.base import Cell


class LSTMCell(Cell):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber 1997), torch.nn.LSTM's math.

    .. math::
        \begin{aligned}
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t) \quad (\text{then } h_t = W_{hr} h_t \text{ if } proj\_size > 0),
        \qquad y_t = h_t
        \end{aligned}

    With ``layer_norm=True`` each gate block of ``W_ih x_t`` and of ``W_hh h_{t-1}`` is
    layer-normalised before the biases are added, and ``tanh(c_t)`` becomes
    ``tanh(LN(c_t) g_c + b_c)`` (Ba et al. 2016; the shift ``b_c`` only with ``bias=True``).

    Args:
        input_size: I. hidden_size: H.
        bias: add ``bias_ih`` and ``bias_hh``.
        proj_size: P > 0 projects h_t to P features with ``weight_hr`` (Sak et al. 2014).
        layer_norm: gains ``ln_weight_ih``, ``ln_weight_hh`` (4H,), and ``ln_weight_c``,
            ``ln_bias_c`` (H,) for the cell state.

    Shapes: ``x_t`` (B, I); state ``(h, c)`` with h (B, P or H), c (B, H); ``y_t = h``.

    Attributes:
        weight_ih (4H, I), weight_hh (4H, P or H), bias_ih (4H,), bias_hh (4H,),
        weight_hr (P, H); gate rows in the order i, f, g, o; initialised from
        U(-1/sqrt(H), 1/sqrt(H)).

    Example::

        >>> cell = LSTMCell(3, 5)
        >>> y, (h, c) = cell(torch.randn(2, 3))
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, proj_size: int = 0,
                 layer_norm: bool = False, device=None, dtype=None) -> None:
        proj_size = check_size("LSTMCell", "proj_size", proj_size, minimum=0)
        super().__init__(input_size, hidden_size, output_size=proj_size or None)
        if proj_size >= self.hidden_size:
            raise ValueError(f"LSTMCell: expected proj_size < hidden_size ({self.hidden_size}), got {proj_size}")
        self.bias = check_bool("LSTMCell", "bias", bias)
        self.proj_size = proj_size
        self.layer_norm = check_bool("LSTMCell", "layer_norm", layer_norm)
        factory = {"device": device, "dtype": dtype}
        H, I, R = self.hidden_size, self.input_size, self.output_size
        self.check_fits(4 * H * I + 4 * H * R + 8 * H + R * H, factory)
        self.weight_ih = nn.Parameter(torch.empty(4 * H, I, **factory))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, R, **factory))
        self.bias_ih = nn.Parameter(torch.empty(4 * H, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(4 * H, **factory)) if bias else None
        self.weight_hr = nn.Parameter(torch.empty(R, H, **factory)) if proj_size else None
        if layer_norm:
            self.ln_weight_ih = make_gain(4 * H, factory)
            self.ln_weight_hh = make_gain(4 * H, factory)
            self.ln_weight_c = make_gain(H, factory)
            self.ln_bias_c = nn.Parameter(torch.zeros(H, **factory)) if bias else None
        self.reset_parameters()

    def init_state(self, batch: int, device=None, dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.zeros(batch, self.output_size, device=device, dtype=dtype)
        c = torch.zeros(batch, self.hidden_size, device=device, dtype=dtype)
        return h, c

    def preactivations(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The gate pre-activations (B, 4H), rows i, f, g, o, biases (and layer norm) included."""
        if self.layer_norm:
            gates = (gate_norm(F.linear(x_t, self.weight_ih), self.ln_weight_ih, 4)
                     + gate_norm(F.linear(h, self.weight_hh), self.ln_weight_hh, 4))  # (B, 4H)
            if self.bias:
                gates = gates + self.bias_ih + self.bias_hh
            return gates
        return F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)  # (B, 4H)

    def gate_activations(self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The activated gates of one step, each (B, H): ``i, f, o`` sigmoids, ``g`` a tanh."""
        i, f, g, o = self.preactivations(x_t, state[0]).chunk(4, dim=1)  # 4 x (B, H)
        return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g), "o": torch.sigmoid(o)}

    def step(self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        c = state[1]
        gate = self.gate_activations(x_t, state)
        c_new = gate["f"] * c + gate["i"] * gate["g"]  # (B, H)
        c_out = F.layer_norm(c_new, (self.hidden_size,), self.ln_weight_c, self.ln_bias_c) if self.layer_norm else c_new
        h_new = gate["o"] * torch.tanh(c_out)  # (B, H)
        if self.proj_size:
            h_new = F.linear(h_new, self.weight_hr)  # (B, P)
        return h_new, (h_new, c_new)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s + f", layer_norm={self.layer_norm}"
