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

from rnnkit.cells import GRUCell, LSTMCell
from rnnkit.kernels.dispatch import run_recorded

TANH_GATES = {"g", "n"}  # the gates that use tanh; the others are sigmoids


def gate_values(cell, x_t: torch.Tensor, state) -> dict[str, torch.Tensor]:
    """The activated gates of one step, each (B, H), by name (i, f, g, o or r, z, n), as the cell computes them."""
    if not isinstance(cell, (LSTMCell, GRUCell)):
        raise TypeError(f"gate_values: expected an LSTMCell or GRUCell, got {type(cell).__name__}")
    return cell.gate_activations(x_t, state)


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
    with torch.no_grad():
        recording = run_recorded(cell, x, state)
        prev = tuple(p[:-1].flatten(0, 1) for p in recording.state_parts)  # per part (T*B, S_j): h_t read
        gates = gate_values(cell, x.flatten(0, 1), prev if recording.tuple_state else prev[0])  # each (T*B, H)
    sat, mean = {}, {}
    for name, v in gates.items():
        s = (v.abs() > 1 - eps) if name in TANH_GATES else (v < eps) | (v > 1 - eps)
        sat[name], mean[name] = float(s.double().mean()), float(v.double().mean())
    memory = "f" if isinstance(cell, LSTMCell) else "z"
    return GateStats(sat, mean, memory, eps)
