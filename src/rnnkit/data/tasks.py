r"""Synthetic long-range tasks, generated on the fly from a seed.

Batch ``index`` of split ``split`` is a pure function of ``(seed, split, index)``, so a
run's data position is one integer and a resumed run sees exactly the batches it
would have seen. Every task is a frozen dataclass with the hooks the Trainer calls:
``batch(split, index) -> Batch``, ``loss(output, batch)``, ``metric(output, batch)``
(named by ``metric_name``), plus ``input_size`` and ``output_size`` for the model.

**Adding problem** (Hochreiter & Schmidhuber 1997): input (T, B, 2), channel 0 a value
``v_t ~ U(0, 1)``, channel 1 a marker that is 1 on exactly two steps (one in each half
of the sequence). Target at the last step: the sum of the two marked values. Always
predicting 1 gives ``MSE = Var(v_i + v_j) = 2/12 = 1/6 ≈ 0.167``.

**Copy memory** (Arjovsky, Shah & Bengio 2016): 10 symbols drawn from 8, then T-1
blanks, a delimiter and 10 blanks (length T + 20); the target is blank for T + 10
steps, then the 10 symbols. A memoryless model that outputs blank and then a uniform
guess has cross-entropy ``10 ln 8 / (T + 20)`` averaged over all steps.

**Recall across a gap** and **look-ahead** (the TBPTT and bidirectional experiments of
``docs/experiments.md``): see :class:`RecallTask` and :class:`LookaheadTask`. **Memory
horizon**: recall a marked symbol exactly k steps back, see :class:`HorizonTask`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnkit._checks import check_choice
from rnnkit.data.batching import Batch, batch_generator, check_request

def _weighted_mean(per_step: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum(w * l) / sum(w) over (T, B); zero (with a graph) when no step has weight."""
    return (per_step * weight).sum() / weight.sum().clamp_min(1e-12)


@dataclass(frozen=True)
class AddingTask:
    """The adding problem of length T: regress the sum of the two marked values (see module docs)."""

    length: int = 100  # T, steps per sequence
    batch_size: int = 64  # B, sequences per batch
    seed: int = 0  # data seed: batch (split, index) is a function of (seed, split, index)

    name = "adding"
    input_size = 2
    output_size = 1
    metric_name = "mse"
    baseline = 1.0 / 6.0  # MSE of always predicting 1

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: x (T, B, 2), y (T, B, 1), weight (T, B) one at t = T-1."""
        check_request("AddingTask", self.length, self.batch_size, self.seed, split, index)
        T, B = self.length, self.batch_size
        gen = batch_generator(self.seed, split, index)
        values = torch.rand(T, B, generator=gen)  # (T, B)
        first = torch.randint(0, T // 2, (B,), generator=gen)  # (B,) marker in the first half
        second = torch.randint(T // 2, T, (B,), generator=gen)  # (B,) marker in the second half
        marks = torch.zeros(T, B)
        lanes = torch.arange(B)
        marks[first, lanes] = 1.0
        marks[second, lanes] = 1.0
        x = torch.stack([values, marks], dim=-1)  # (T, B, 2)
        y = torch.zeros(T, B, 1)
        y[-1, :, 0] = (values * marks).sum(dim=0)
        weight = torch.zeros(T, B)
        weight[-1] = 1.0
        return Batch(x, y, weight)

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean squared error over the weighted steps; output (T, B, 1)."""
        return _weighted_mean(((output - batch.y) ** 2).sum(dim=-1), batch.weight)

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """MSE at the target step (the same number as the loss)."""
        return self.loss(output, batch).detach()


@dataclass(frozen=True)
class CopyTask:
    """Copy memory with delay T: recall 10 symbols after T + 10 steps (see module docs)."""

    length: int = 100  # T, the delay; sequences have T + 20 steps
    batch_size: int = 64  # B, sequences per batch
    seed: int = 0  # data seed: batch (split, index) is a function of (seed, split, index)

    name = "copy"
    symbols = 8  # the alphabet to remember: classes 0..7
    blank = 8  # input and target class of a blank
    delimiter = 9  # input class that says "recall now"
    recall = 10  # how many symbols to remember
    input_size = 10  # one-hot over 8 symbols, blank, delimiter
    output_size = 9  # classes over 8 symbols and blank
    metric_name = "accuracy"

    @property
    def baseline(self) -> float:
        """Cross-entropy of the memoryless strategy: 10 ln 8 / (T + 20)."""
        return self.recall * math.log(self.symbols) / (self.length + 2 * self.recall)

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: x (T+20, B, 10) one-hot, y (T+20, B) classes, weight all ones."""
        check_request("CopyTask", self.length, self.batch_size, self.seed, split, index)
        T, B, R = self.length, self.batch_size, self.recall
        gen = batch_generator(self.seed, split, index)
        data = torch.randint(0, self.symbols, (R, B), generator=gen)  # (R, B)
        tokens = torch.full((T + 2 * R, B), self.blank, dtype=torch.long)  # (T+20, B)
        tokens[:R] = data
        tokens[T + R - 1] = self.delimiter
        y = torch.full((T + 2 * R, B), self.blank, dtype=torch.long)  # (T+20, B)
        y[-R:] = data
        x = F.one_hot(tokens, self.input_size).float()  # (T+20, B, 10)
        return Batch(x, y, torch.ones(T + 2 * R, B))

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy over the weighted steps; output (T, B, 9) logits."""
        per_step = F.cross_entropy(output.flatten(0, 1), batch.y.flatten(0, 1), reduction="none")  # (T*B,)
        return _weighted_mean(per_step.view_as(batch.weight), batch.weight)

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Fraction of the recalled symbols predicted right (over the last 10 steps of this window)."""
        recall = batch.y < self.symbols  # (T, B): steps that ask for a symbol
        if not recall.any():
            return torch.tensor(float("nan"))
        right = (output.argmax(dim=-1) == batch.y) & recall
        return (right.sum() / recall.sum()).detach().float()


@dataclass(frozen=True)
class LookaheadTask:
    """Needs future context: x_t ~ U(0, 1), target y_t = x_(t+shift) (0 past the end); MSE per step.

    A causal model can at best predict E[x] = 1/2 where the future is unseen: MSE 1/12 ≈ 0.0833
    on the steps with a target in the future (all but the last ``shift``, whose target is 0).
    """

    length: int = 20  # T
    batch_size: int = 64  # B
    seed: int = 0  # data seed
    shift: int = 3  # how far ahead the target looks

    name = "lookahead"
    input_size = 1
    output_size = 1
    metric_name = "mse"

    @property
    def baseline(self) -> float:
        """MSE of the best causal predictor (1/2 where a future value is asked, 0 at the end)."""
        return (self.length - self.shift) / self.length / 12.0

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: x (T, B, 1), y (T, B, 1), weight all ones."""
        check_request("LookaheadTask", self.length, self.batch_size, self.seed, split, index)
        if not 1 <= self.shift < self.length:
            raise ValueError(f"LookaheadTask: expected 1 <= shift < length ({self.length}), got {self.shift}")
        gen = batch_generator(self.seed, split, index)
        x = torch.rand(self.length, self.batch_size, 1, generator=gen)  # (T, B, 1)
        y = torch.zeros_like(x)
        y[:-self.shift] = x[self.shift:]
        return Batch(x, y, torch.ones(self.length, self.batch_size))

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean squared error over every step."""
        return ((output - batch.y) ** 2).mean()

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
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
    seed: int = 0  # data seed
    gap: int = 20  # the marker lies in steps 0 .. T - gap - 1

    name = "recall"
    input_size = 2
    output_size = 1
    metric_name = "mse"
    baseline = 1.0 / 12.0  # MSE of always predicting 1/2

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: x (T, B, 2), y (T, B, 1), weight (T, B) one at t = T-1."""
        check_request("RecallTask", self.length, self.batch_size, self.seed, split, index)
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

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean squared error at the target step."""
        return _weighted_mean(((output - batch.y) ** 2).sum(dim=-1), batch.weight)

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.loss(output, batch).detach()


@dataclass(frozen=True)
class HorizonTask:
    """Recall the marked symbol exactly ``length`` = k steps back: x_t = (one-hot of a symbol from 8, marker);
    ``lead`` = 10 unmarked symbols, then the marked one, then k distractors (sequences of k + 11 steps).

    The target, at the last step only, is the marked symbol's class (cross-entropy; metric: accuracy,
    chance 1/8). Every distractor is drawn from the same 8 symbols, so only memory of the marked step
    helps; the lag is the same for every sequence, so accuracy against k is a memory-horizon curve.
    """

    length: int = 50  # k, the lag from the marked step to the last step
    batch_size: int = 64  # B
    seed: int = 0  # data seed
    lead: int = 10  # unmarked symbols before the marked one

    name = "horizon"
    symbols = 8
    input_size = 9  # one-hot over 8 symbols, marker
    output_size = 8
    metric_name = "accuracy"
    baseline = math.log(8)  # cross-entropy of a uniform guess; its accuracy is 1/8

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: x (k+11, B, 9), y (k+11, B) classes, weight (k+11, B) one at the end."""
        check_request("HorizonTask", self.length, self.batch_size, self.seed, split, index)
        if self.lead < 0:
            raise ValueError(f"HorizonTask: expected lead >= 0, got {self.lead}")
        T, B = self.lead + 1 + self.length, self.batch_size
        gen = batch_generator(self.seed, split, index)
        tokens = torch.randint(0, self.symbols, (T, B), generator=gen)  # (T, B)
        x = torch.cat([F.one_hot(tokens, self.symbols).float(), torch.zeros(T, B, 1)], dim=-1)  # (T, B, 9)
        x[self.lead, :, -1] = 1.0  # the marker
        y = torch.zeros(T, B, dtype=torch.long)
        y[-1] = tokens[self.lead]
        weight = torch.zeros(T, B)
        weight[-1] = 1.0
        return Batch(x, y, weight)

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy at the last step; output (T, B, 8) logits."""
        per_step = F.cross_entropy(output.flatten(0, 1), batch.y.flatten(0, 1), reduction="none")  # (T*B,)
        return _weighted_mean(per_step.view_as(batch.weight), batch.weight)

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Fraction of sequences whose marked symbol is the argmax at the last step."""
        asked = batch.weight > 0  # (T, B)
        if not asked.any():
            return torch.tensor(float("nan"))
        right = (output.argmax(dim=-1) == batch.y) & asked
        return (right.sum() / asked.sum()).detach().float()


TASKS = {"adding": AddingTask, "copy": CopyTask, "recall": RecallTask, "lookahead": LookaheadTask,
         "horizon": HorizonTask}


def make_task(name: str, length: int = 100, batch_size: int = 64, seed: int = 0):
    """The task called ``name`` (one of ``TASKS``) with these settings."""
    check_choice("make_task", "task", name, tuple(TASKS))
    task = TASKS[name](length=length, batch_size=batch_size, seed=seed)
    check_request(type(task).__name__, length, batch_size, seed, "train", 0)
    return task
