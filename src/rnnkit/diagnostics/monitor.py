r"""A training monitor: gradient flow and gradient norms recorded during training, with alarms.

Attach it to a :class:`rnnkit.Trainer`; it is a named Trainer hook
(``"training_monitor"``, see :mod:`rnnkit.train.hooks`) that acts on ``on_step_end``, and
it reads each parameter's gradient through a post-accumulate-grad hook, so the Trainer
itself is unchanged::

    monitor = TrainingMonitor(MonitorConfig(every=50)).attach(trainer)
    trainer.fit()
    monitor.alarms        # [Alarm(kind="vanishing", ...), ...]

Every step it reads the global gradient norm *before clipping*
(:math:`\sqrt{\sum_p \|g_p\|^2}`) and raises an exploding alarm when it grew by
``jump`` (x100) in one step. Every ``every`` steps it measures
:math:`\|\partial L/\partial h_t\|` on a fixed batch (:func:`rnnkit.diagnostics.gradient_flow`)
and raises a vanishing alarm when :math:`\|\partial L/\partial h_{T-k}\| / \|\partial L/\partial h_T\|`
falls below ``threshold`` at some lag k. Records and alarms go to
``<trainer.out_dir>/monitor.jsonl`` (one JSON object per line); the first alarm of each
kind is also printed to stderr with its remedy.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass

from rnnkit.diagnostics.alarms import Alarm, cell_kind, flow_alarms, jump_alarm
from rnnkit.diagnostics.flow import find_recurrent, gradient_flow


@dataclass(frozen=True)
class MonitorConfig:
    """When to measure and when to raise an alarm."""

    every: int = 50  # measure gradient flow every this many optimizer steps (and at step 1)
    threshold: float = 1e-6  # vanishing alarm when ||dL/dh_(T-k)||/||dL/dh_T|| < threshold at some lag k
    jump: float = 100.0  # exploding alarm when the pre-clipping gradient norm grows by this factor in one step
    split: str = "val"  # the task split whose batch 0 gradient flow is measured on
    lags: tuple = (1, 10, 50, 100, 200, 500)  # lags whose ratios are written in each record

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"MonitorConfig: expected every to be an int >= 1, got {self.every!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"MonitorConfig: expected threshold in (0, 1), got {self.threshold!r}")
        if not self.jump > 1:
            raise ValueError(f"MonitorConfig: expected jump > 1, got {self.jump!r}")


class TrainingMonitor:
    """Records gradient norms every step and gradient flow every ``config.every`` steps; raises alarms.

    A Trainer hook named ``"training_monitor"``: :meth:`attach` adds it, :meth:`on_attach`
    hooks into the parameters, :meth:`on_step_end` measures.
    """

    name = "training_monitor"

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.records: list[dict] = []  # {"step", "grad_norm"} every step, plus "ratios" when flow was measured
        self.alarms: list[Alarm] = []
        self._sq: dict[int, float] = {}  # parameter index -> ||grad||^2 of the latest backward
        self._previous = math.nan
        self._printed: set[str] = set()
        self._path = None

    def attach(self, trainer) -> "TrainingMonitor":
        """Add this monitor to ``trainer`` as its hook ``"training_monitor"``; returns the monitor."""
        trainer.add_hook(self)
        return self

    def on_attach(self, trainer) -> None:
        """Read every parameter's gradient after it accumulates; write records next to the trainer's outputs."""
        for i, p in enumerate(trainer.raw_model.parameters()):
            if p.requires_grad:
                p.register_post_accumulate_grad_hook(lambda p, i=i: self._sq.__setitem__(
                    i, float(p.grad.detach().double().pow(2).sum())))
        if trainer.out_dir is not None and trainer.ctx.main:
            self._path = trainer.out_dir / "monitor.jsonl"

    @property
    def grad_norm(self) -> float:
        """The global gradient norm of the latest backward, before clipping."""
        return math.sqrt(sum(self._sq.values())) if self._sq else math.nan

    def on_step_end(self, trainer) -> None:
        """Record this step's gradient norm, every ``config.every`` steps the gradient flow; raise alarms."""
        step, norm = trainer.step, self.grad_norm
        record = {"step": step, "grad_norm": norm}
        alarm = jump_alarm(self._previous, norm, step, self.config.jump) if math.isfinite(self._previous) else None
        new = [alarm] if alarm else []
        self._previous = norm
        if step == 1 or step % self.config.every == 0:
            flow = self.measure(trainer)
            lags = flow.by_lag()
            ref = float(lags[0])
            record["ratios"] = {str(k): float(lags[k]) / ref if ref else math.nan
                                for k in self.config.lags if k < flow.length}
            record["ratio_at_T-1"] = float(lags[-1]) / ref if ref else math.nan
            kind = cell_kind(find_recurrent(trainer.raw_model).cells[0])
            new += flow_alarms(flow, kind, self.config.threshold, step)
        self.records.append(record)
        self.alarms.extend(new)
        self._write(record, new)

    def measure(self, trainer):
        """Gradient flow of the trainer's model on batch 0 of ``config.split``."""
        batch = trainer.task.batch(self.config.split, 0).to(trainer.ctx.device)
        return gradient_flow(trainer.raw_model, batch, trainer.task.loss)

    def _write(self, record: dict, alarms: list[Alarm]) -> None:
        for a in alarms:
            if a.kind not in self._printed:
                self._printed.add(a.kind)
                print(f"rnnkit monitor: {a}", file=sys.stderr)
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path, "a") as f:
            f.write(json.dumps(record) + "\n")
            for a in alarms:
                f.write(json.dumps({"alarm": a.to_dict()}) + "\n")

