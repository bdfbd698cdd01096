r"""Alarms for vanishing and exploding gradients, each with the remedy that fits.

- vanishing: :math:`\|\partial L/\partial h_{T-k}\| / \|\partial L/\partial h_T\| < \tau`
  (default :math:`\tau = 10^{-6}`) at some lag k: the first such k is reported;
- exploding through time: the same ratio above :math:`1/\tau` at some lag;
- exploding in training: the gradient norm grew by a factor :math:`\ge 100` in one step.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, MinGRUCell, MinLSTMCell
from rnnkit.diagnostics.flow import GradientFlow

VANISHING_REMEDY = {
    "rnn": "use a gated cell (--cell lstm or --cell gru), or an orthogonal init (--init orthogonal), "
           "or ReLU with identity init (IRNN, init='identity')",
    "lstm": "open the forget gates: chrono init (--init chrono) or a forget-gate bias near 1",
    "gru": "bias the update gate towards keeping h (z near 1), or an orthogonal init (--init orthogonal)",
    "mingru": "keep a_t = 1 - z_t near 1 (the state's decay per step): chrono init (--init chrono) biases the "
              "update gate towards keeping h",
    "minlstm": "keep f'_t near 1 (the state's decay per step): chrono init (--init chrono) biases the forget gate",
}
EXPLODING_REMEDY = ("clip the gradient (--clip-norm 1.0, or --clip-value), lower the learning rate, "
                    "use a shorter TBPTT window (--tbptt k), or an orthogonal init / spectral radius below 1")


def cell_kind(cell) -> str:
    """"rnn", "lstm", "gru", "mingru", "minlstm" or the class name, for choosing a remedy."""
    for kind, family in (("lstm", LSTMCell), ("gru", GRUCell), ("rnn", ElmanCell), ("minlstm", MinLSTMCell),
                         ("mingru", MinGRUCell)):
        if isinstance(cell, family):
            return kind
    return type(cell).__name__


@dataclass(frozen=True)
class Alarm:
    """One alarm: what was measured, where, and what to do about it."""

    kind: str  # "vanishing" or "exploding"
    message: str  # what was measured, with the numbers
    remedy: str  # what usually fixes it
    step: int | None = None  # the training step it was raised at (None outside training)

    def __str__(self) -> str:
        where = "" if self.step is None else f"step {self.step}: "
        return f"{where}{self.kind}: {self.message}; remedy: {self.remedy}"

    def to_dict(self) -> dict:
        return asdict(self)


def flow_alarms(flow: GradientFlow, kind: str, threshold: float = 1e-6, step: int | None = None) -> list[Alarm]:
    """Vanishing/exploding-through-time alarms of every layer and direction of ``flow``."""
    alarms = []
    for layer in range(flow.num_layers):
        for d in range(flow.num_directions):
            lags = flow.by_lag(layer, d)  # (T,) lag 0 first
            ref = float(lags[0])
            if ref == 0.0:
                continue
            ratio = lags / ref
            where = f"layer {layer}" + (", reverse" if d else "")
            low = (ratio < threshold).nonzero().flatten()
            if low.numel():
                k = int(low[0])
                alarms.append(Alarm("vanishing", f"||dL/dh_(T-k)||/||dL/dh_T|| = {float(ratio[k]):.3g} < "
                                                 f"{threshold:g} at lag k={k} ({where}; {float(ratio[-1]):.3g} "
                                                 f"at k={lags.shape[0] - 1})", VANISHING_REMEDY.get(kind, ""),
                                    step))
            high = (ratio > 1 / threshold).nonzero().flatten()
            if high.numel():
                k = int(high[0])
                alarms.append(Alarm("exploding", f"||dL/dh_(T-k)||/||dL/dh_T|| = {float(ratio[k]):.3g} > "
                                                 f"{1 / threshold:g} at lag k={k} ({where})", EXPLODING_REMEDY,
                                    step))
    return alarms


def jump_alarm(previous: float, current: float, step: int, factor: float = 100.0) -> Alarm | None:
    """An exploding alarm when the gradient norm grew by ``factor`` or more in one step."""
    if previous > 0 and (not torch.isfinite(torch.tensor(current)) or current >= factor * previous):
        return Alarm("exploding", f"gradient norm x{current / previous:.3g} in one step "
                                  f"({previous:.3g} -> {current:.3g}, threshold x{factor:g})", EXPLODING_REMEDY, step)
    return None
