"""Shared pieces of the experiments: models, a look-ahead task, a training helper, tables."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import rnnkit
from rnnkit.data.batching import Batch
from rnnkit.data.tasks import _check, batch_generator
from rnnkit.train import TrainConfig, Trainer


class Head(nn.Module):
    """A recurrent layer and a linear read-out per step; ``model(x, state, resets) -> (y, state)``."""

    def __init__(self, layer: nn.Module, output_size: int) -> None:
        super().__init__()
        self.rnn = layer
        width = layer.num_directions * layer.cells[0].output_size
        self.head = nn.Linear(width, output_size)

    def forward(self, x, state=None, resets=None):
        out, state = self.rnn(x, state)  # (T, B, D*H)
        return self.head(out), state  # (T, B, O)


def make(cell: str, input_size: int, hidden: int, output_size: int, *, init=None, bidirectional=False,
         spectral_radius=None) -> Head:
    """``cell`` one of "tanh", "relu", "lstm", "gru" (tanh/relu: Elman RNNs)."""
    kw = {"init": init, "bidirectional": bidirectional, "spectral_radius": spectral_radius}
    if cell in ("tanh", "relu"):
        layer = rnnkit.RNN(input_size, hidden, nonlinearity=cell, **kw)
    else:
        layer = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[cell](input_size, hidden, **kw)
    return Head(layer, output_size)


@dataclass(frozen=True)
class LookaheadTask:
    """Needs future context: x_t ~ U(0, 1), target y_t = x_(t+shift) (0 past the end); MSE per step.

    A causal model can at best predict E[x] = 1/2 where the future is unseen: MSE 1/12 ≈ 0.0833
    on the steps with a target in the future (all but the last ``shift``, whose target is 0).
    """

    length: int = 20  # T
    batch_size: int = 64  # B
    shift: int = 3  # how far ahead the target looks
    seed: int = 0  # data seed

    name = "lookahead"
    input_size = 1
    output_size = 1
    metric_name = "mse"

    @property
    def baseline(self) -> float:
        """MSE of the best causal predictor (1/2 where a future value is asked, 0 at the end)."""
        return (self.length - self.shift) / self.length / 12.0

    def batch(self, split: str, index: int) -> Batch:
        _check("LookaheadTask", self.length, self.batch_size, self.seed, split, index)
        gen = batch_generator(self.seed, split, index)
        x = torch.rand(self.length, self.batch_size, 1, generator=gen)  # (T, B, 1)
        y = torch.zeros_like(x)
        y[:-self.shift] = x[self.shift:]
        return Batch(x, y, torch.ones(self.length, self.batch_size))

    def loss(self, output, batch):
        return ((output - batch.y) ** 2).mean()

    def metric(self, output, batch):
        return self.loss(output, batch).detach()


@dataclass(frozen=True)
class RecallTask:
    """Recall one value across a gap: x_t = (v_t ~ U(0, 1), marker), one marker in steps 0..T-gap-1;
    target at the last step: the marked value. Predicting 1/2 gives MSE 1/12 ≈ 0.0833.

    Every marked step lies at least ``gap`` steps before the end, so a truncated-BPTT window
    shorter than ``gap`` never holds both the marker and the target.
    """

    length: int = 40  # T
    batch_size: int = 64  # B
    gap: int = 20  # the marker lies in steps 0 .. T - gap - 1
    seed: int = 0  # data seed

    name = "recall"
    input_size = 2
    output_size = 1
    metric_name = "mse"
    baseline = 1.0 / 12.0  # MSE of always predicting 1/2

    def batch(self, split: str, index: int) -> Batch:
        _check("RecallTask", self.length, self.batch_size, self.seed, split, index)
        if not 1 <= self.gap < self.length:
            raise ValueError(f"RecallTask: expected 1 <= gap < length ({self.length}), got {self.gap}")
        T, B = self.length, self.batch_size
        gen = batch_generator(self.seed, split, index)
        values = torch.rand(T, B, generator=gen)  # (T, B)
        where = torch.randint(0, T - self.gap, (B,), generator=gen)  # (B,)
        marks = torch.zeros(T, B)
        marks[where, torch.arange(B)] = 1.0
        y = torch.zeros(T, B, 1)
        y[-1, :, 0] = values[where, torch.arange(B)]
        weight = torch.zeros(T, B)
        weight[-1] = 1.0
        return Batch(torch.stack([values, marks], dim=-1), y, weight)  # x (T, B, 2)

    def loss(self, output, batch):
        return (((output - batch.y) ** 2).sum(-1) * batch.weight).sum() / batch.weight.sum()

    def metric(self, output, batch):
        return self.loss(output, batch).detach()


def train(model, task, *, steps: int, lr: float = 5e-3, optimizer: str = "adam", clip_norm=1.0, clip_value=None,
          tbptt=None, seed: int = 0, eval_batches: int = 4, monitor=None) -> dict:
    """Train with the Trainer (no files), then evaluate; returns steps, seconds, val loss/metric, history."""
    config = TrainConfig(steps=steps, lr=lr, optimizer=optimizer, clip_norm=clip_norm, clip_value=clip_value,
                         tbptt=tbptt, seed=seed, eval_every=0, eval_batches=eval_batches, progress=False,
                         tensorboard=False, checkpoint_every=0, max_nonfinite=3)
    trainer = Trainer(model, task, config, None)
    if monitor is not None:
        monitor.attach(trainer)
    start = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - start
    return {"steps": result.step, "stopped": result.stopped, "seconds": seconds, "val_loss": result.val_loss,
            "val_metric": result.val_metric, "losses": [row["loss"] for row in result.history],
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
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")
    return path
