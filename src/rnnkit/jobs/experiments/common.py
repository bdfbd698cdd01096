"""Shared pieces of the experiments: the model, a training helper, tables and JSON files."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from rnnkit._write import atomic_write
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer


def make(cell: str, input_size: int, hidden: int, output_size: int, *, init=None, bidirectional=False,
         spectral_radius=None) -> SequenceModel:
    """``cell`` one of "tanh", "relu", "lstm", "gru", "mingru", "minlstm" (tanh/relu: Elman RNNs), with a read-out
    at every step."""
    return SequenceModel(cell, input_size, hidden, output_size, init=init, bidirectional=bidirectional,
                         spectral_radius=spectral_radius)


def train(model, task, *, steps: int, lr: float = 5e-3, optimizer: str = "adam", clip_norm=1.0, clip_value=None,
          tbptt=None, seed: int = 0, eval_batches: int = 4, monitor=None, max_minutes=None,
          test_batches: int = 0) -> dict:
    """Train with the Trainer (no files) for ``steps`` or ``max_minutes`` of wall time, whichever ends first,
    then evaluate; returns steps, seconds, val loss/metric (and test, over ``test_batches``), history."""
    config = TrainConfig(steps=steps, lr=lr, optimizer=optimizer, clip_norm=clip_norm, clip_value=clip_value,
                         tbptt=tbptt, seed=seed, eval_every=0, eval_batches=eval_batches, progress=False,
                         tensorboard=False, checkpoint_every=0, max_nonfinite=3, max_minutes=max_minutes)
    trainer = Trainer(model, task, config, None)
    if monitor is not None:
        monitor.attach(trainer)
    start = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - start
    test = trainer.evaluate("test", test_batches) if test_batches else (math.nan, math.nan)
    return {"steps": result.step, "stopped": result.stopped, "seconds": seconds, "val_loss": result.val_loss,
            "val_metric": result.val_metric, "test_loss": test[0], "test_metric": test[1],
            "losses": [row["loss"] for row in result.history],
            "grad_norms": [row["grad_norm"] for row in result.history]}


def table(header: list[str], rows: list[list]) -> list[str]:
    """Markdown table lines."""
    def fmt(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4g}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]


def save_json(out: Path, name: str, data) -> Path:
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, json.dumps(data, indent=1, default=float) + "\n")
