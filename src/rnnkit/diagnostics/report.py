"""One diagnosis of a model on a batch: gradient flow, spectra, Jacobian rate, gates, alarms.

:func:`diagnose` measures everything on a float64 copy of the model (the weights are
not touched) and returns a :class:`Diagnosis` that renders as text or as a JSON-ready dict.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnkit._write import atomic_write
from rnnkit.diagnostics.alarms import Alarm, cell_kind, flow_alarms
from rnnkit.diagnostics.flow import GradientFlow, find_recurrent, gradient_flow
from rnnkit.diagnostics.gates import GateStats, gate_stats
from rnnkit.diagnostics.jacobian import jacobian_products
from rnnkit.diagnostics.spectral import Spectrum, layer_spectra

LAGS = (1, 10, 50, 100, 200, 500, 1000)  # lags shown in the text report (those < T)


@dataclass(frozen=True)
class Diagnosis:
    """Everything :func:`diagnose` measured."""

    cell: str  # "rnn", "lstm", "gru" (or a custom cell's class name)
    flow: GradientFlow  # ||dL/dh_t|| per layer, direction, step
    spectra: list  # Spectrum per recurrent gate block
    jacobian_rate: float  # measured factor per step of ||dh_T/dh_(T-k)|| (first layer, forward)
    gates: list  # GateStats per cell (empty for Elman cells)
    alarms: list  # Alarm list (vanishing / exploding)
    info: dict = field(default_factory=dict)  # what was diagnosed: task, length, init, engine note...

    @property
    def vanishing(self) -> bool:
        return any(a.kind == "vanishing" for a in self.alarms)

    @property
    def exploding(self) -> bool:
        return any(a.kind == "exploding" for a in self.alarms)

    def to_dict(self) -> dict:
        ratio = self.flow.ratio().tolist()
        return {
            "info": self.info, "cell": self.cell,
            "verdict": {"vanishing": self.vanishing, "exploding": self.exploding},
            "alarms": [a.to_dict() for a in self.alarms],
            "gradient_flow": {"engine": self.flow.engine, "note": self.flow.note,
                              "shape_L_D_T": list(self.flow.norms.shape),
                              "norms": self.flow.norms.tolist(), "ratio_last_layer_forward": ratio},
            "jacobian_rate_per_step": self.jacobian_rate,
            "spectra": [{"block": s.name, "spectral_radius": s.radius, "spectral_norm": s.norm,
                         "eigenvalues_re": s.eigenvalues.real.tolist(), "eigenvalues_im": s.eigenvalues.imag.tolist()}
                        for s in self.spectra],
            "gates": [{"cell": i, "saturated": g.saturated, "mean": g.mean, "memory_gate": g.memory_gate,
                       "eps": g.eps} for i, g in enumerate(self.gates)],
        }

    def text(self) -> str:
        lines = [f"rnnkit diagnose: {self.cell}, " + ", ".join(f"{k} {v}" for k, v in self.info.items())]
        if self.flow.note:
            lines.append(f"  note: {self.flow.note}")
        T = self.flow.length
        lines.append("gradient flow ||dL/dh_(T-k)|| / ||dL/dh_T|| (last layer, forward):")
        by_lag = self.flow.by_lag()
        ref = float(by_lag[0])
        lags = [k for k in LAGS if k < T] + ([T - 1] if T - 1 not in LAGS else [])
        lines.append("  " + "  ".join(f"k={k}: {float(by_lag[k]) / ref:.3g}" if ref else f"k={k}: nan" for k in lags))
        lines.append(f"Jacobian products: ||dh_T/dh_(T-k)|| changes by x{self.jacobian_rate:.4g} per step")
        if self.spectra:
            lines.append("spectral radius of W_hh blocks: "
                         + ", ".join(f"{s.name} {s.radius:.4g}" for s in self.spectra))
        elif self.cell in ("mingru", "minlstm"):
            lines.append("no W_hh: the recurrence is element-wise, dh_t/dh_(t-1) = diag(a_t) with 0 < a_t < 1 "
                         "(the Jacobian products above measure it)")
        else:
            lines.append("no square W_hh blocks to take eigenvalues of")
        for i, g in enumerate(self.gates):
            sat = ", ".join(f"{k} {v:.1%}" for k, v in g.saturated.items())
            lines.append(f"gates of cell {i}: saturated (eps {g.eps:g}) {sat}; mean {g.memory_gate} "
                         f"{g.mean_memory:.3f}")
        if self.alarms:
            lines.extend(f"ALARM {a}" for a in self.alarms)
        else:
            lines.append("no alarm: gradients neither vanish nor explode over the whole sequence")
        return "\n".join(lines)


def diagnose(model: torch.nn.Module, batch, loss_fn, *, threshold: float = 1e-6, max_lag: int | None = 100,
             info: dict | None = None) -> Diagnosis:
    """Measure ``model`` (holding one rnnkit recurrent layer) on ``batch`` with ``loss_fn(output, batch)``.

    Runs on a float64 copy. ``max_lag`` bounds the Jacobian products (None: the whole batch length).
    """
    model = copy.deepcopy(model).double()
    batch = _double(batch)
    layer = find_recurrent(model)
    kind = cell_kind(layer.cells[0])
    flow = gradient_flow(model, batch, loss_fn)
    x = batch if isinstance(batch, torch.Tensor) else batch.x
    if getattr(layer, "batch_first", False):
        x = x.transpose(0, 1)  # (B, T, I) -> (T, B, I)
    T = x.shape[0]
    lag = T if max_lag is None else min(max_lag, T)
    # the last `lag` steps of (at most) 8 samples, from the zero state
    jp = jacobian_products(layer.cells[0], x[T - lag:, :8], max_lag=lag)
    gates = [gate_stats(c, x) for c in layer.cells[:layer.num_directions]] if kind in ("lstm", "gru") else []
    return Diagnosis(kind, flow, layer_spectra(layer), jp.rate if math.isfinite(jp.rate) else math.nan, gates,
                     flow_alarms(flow, kind, threshold), dict(info or {}))



def _double(batch):
    """A tensor or a :class:`~rnnkit.data.Batch` in float64."""
    return batch.double() if isinstance(batch, torch.Tensor) else batch.to(dtype=torch.float64)


def write_report(diagnosis: Diagnosis, out, *, title: str) -> tuple[list[Path], str | None]:
    """``report.txt`` and ``report.json``, then the plots (gradient flow, eigenvalues, gates), in ``out``.

    Returns the paths written and, when the plots could not be drawn (matplotlib is not
    installed), why; the text and JSON reports are written either way.
    """
    from rnnkit.diagnostics import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [atomic_write(out / "report.txt", diagnosis.text() + "\n"),
               atomic_write(out / "report.json", json.dumps(diagnosis.to_dict(), indent=1) + "\n")]
    try:
        written.insert(0, plots.plot_gradient_flow(diagnosis.flow, out / "gradient_flow.png", title=title))
        if diagnosis.spectra:  # cells linear in h have no recurrent matrix to draw
            written.insert(1, plots.plot_eigenvalues(diagnosis.spectra, out / "eigenvalues.png"))
        if diagnosis.gates:
            written.insert(2, plots.plot_gates(diagnosis.gates, out / "gates.png"))
    except ImportError as exc:
        return written, str(exc)
    return written, None
