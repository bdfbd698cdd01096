r"""Gate statistics of LSTM and GRU cells: saturation and the memory a gate keeps.

A sigmoid gate :math:`\sigma(a)` is *saturated* when it sits near 0 or 1
(:math:`\sigma < \epsilon` or :math:`\sigma > 1-\epsilon`), a tanh when
:math:`|\tanh(a)| > 1-\epsilon`; there its derivative is almost 0 and little gradient
passes through the gate's own parameters. The LSTM forget gate :math:`f_t` (and the
GRU update gate :math:`z_t`, the share of :math:`h_{t-1}` kept) sets the memory: the
cell-state path multiplies the gradient by :math:`f_t` at each step, so a mean
:math:`\bar f` keeps a signal for about :math:`1/(1-\bar f)` steps.

LSTM gates i, f, g, o (g a tanh); GRU gates r, z, n (n a tanh):

.. math::  [i, f, g, o] = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}, \qquad
           r, z = \sigma(\cdot), \; n = \tanh(W_{in} x_t + b_{in} + r \odot (W_{hn} h_{t-1} + b_{hn}))
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnkit.cells import GRUCell, LSTMCell
from rnnkit.cells._norm import gate_norm

TANH_GATES = {"g", "n"}  # the gates that use tanh; the others are sigmoids


def _pre(cell, x_t, h):
    """The two gate pre-activation terms (B, G*H) as the cell computes them, biases included."""
    G = cell.gates
    if cell.layer_norm:
        gi = gate_norm(F.linear(x_t, cell.weight_ih), cell.ln_weight_ih, G)
        gh = gate_norm(F.linear(h, cell.weight_hh), cell.ln_weight_hh, G)
        if cell.bias:
            gi, gh = gi + cell.bias_ih, gh + cell.bias_hh
        return gi, gh
    return F.linear(x_t, cell.weight_ih, cell.bias_ih), F.linear(h, cell.weight_hh, cell.bias_hh)


def gate_values(cell, x_t: torch.Tensor, state) -> dict[str, torch.Tensor]:
    """The activated gates of one step, each (B, H), by name (i, f, g, o or r, z, n)."""
    if isinstance(cell, LSTMCell):
        gi, gh = _pre(cell, x_t, state[0])
        i, f, g, o = (gi + gh).chunk(4, dim=1)  # 4 x (B, H)
        return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g), "o": torch.sigmoid(o)}
    if isinstance(cell, GRUCell):
        gi, gh = _pre(cell, x_t, state)
        (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, dim=1), gh.chunk(3, dim=1)  # 3 x (B, H) each
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        return {"r": r, "z": z, "n": torch.tanh(i_n + r * h_n)}
    raise TypeError(f"gate_values: expected an LSTMCell or GRUCell, got {type(cell).__name__}")


@dataclass(frozen=True)
class GateStats:
    """Per gate, over all steps, samples and units of one cell."""

    saturated: dict  # gate name -> fraction of values within eps of the gate's bounds
    mean: dict  # gate name -> mean value
    memory_gate: str  # "f" (LSTM forget) or "z" (GRU update: share of h_{t-1} kept)
    eps: float  # the saturation margin used

    @property
    def mean_memory(self) -> float:
        """Mean of the forget (LSTM) or update (GRU) gate."""
        return self.mean[self.memory_gate]


def gate_stats(cell, x: torch.Tensor, state=None, eps: float = 0.05) -> GateStats:
    """Run ``cell`` over ``x`` (T, B, I) and summarise its gates (``eps``: the saturation margin)."""
    if not isinstance(cell, (LSTMCell, GRUCell)):
        raise TypeError(f"gate_stats: expected an LSTMCell or GRUCell, got {type(cell).__name__}")
    if x.dim() != 3:
        raise ValueError(f"gate_stats: expected x with 3 dims (T, B, I), got shape {tuple(x.shape)}")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"gate_stats: expected eps in (0, 0.5), got {eps}")
    if state is None:
        state = cell.init_state(x.shape[1], x.device, x.dtype)
    sat, total, count = {}, {}, 0
    with torch.no_grad():
        for t in range(x.shape[0]):
            gates = gate_values(cell, x[t], state)
            for name, v in gates.items():
                if name in TANH_GATES:
                    s = (v.abs() > 1 - eps)
                else:
                    s = (v < eps) | (v > 1 - eps)
                sat[name] = sat.get(name, 0.0) + float(s.sum())
                total[name] = total.get(name, 0.0) + float(v.sum())
            count += gates[next(iter(gates))].numel()
            state = cell.step(x[t], state)[1]
    memory = "f" if isinstance(cell, LSTMCell) else "z"
    return GateStats({k: v / count for k, v in sat.items()}, {k: v / count for k, v in total.items()}, memory, eps)
