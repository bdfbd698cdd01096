"""Time-major batches, their TBPTT windows, and streams of sequences laid out in lanes.

A :class:`Batch` holds inputs, time-aligned targets and per-step loss weights, all
time-major. Truncated BPTT cuts it into windows of ``k`` steps (:meth:`Batch.windows`);
the Trainer carries the recurrent state from one window to the next. When several
sequences follow each other in one lane of a streamed batch (:func:`stream_lanes`),
``resets[t, b]`` marks the step where a new sequence starts, and the model zeroes that
sample's state just before step ``t``.

Generated data is a pure function of ``(seed, split, index)`` (:func:`batch_generator`),
so a run's data position is one integer and a resumed run sees the same batches.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import torch

from rnnkit._checks import check_choice, check_memory, check_size, check_tensor

SPLITS = ("train", "val", "test")


def batch_generator(seed: int, split: str, index: int) -> torch.Generator:
    """A generator seeded by a hash of ``(seed, split, index)``: same triple, same batch."""
    digest = hashlib.blake2b(f"{seed}:{split}:{index}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & ((1 << 63) - 1))


def check_request(owner: str, length: int, batch_size: int, seed: int, split: str, index: int) -> None:
    """Validate a generated task's settings and one ``batch(split, index)`` request."""
    check_size(owner, "length", length, minimum=2)
    check_size(owner, "batch_size", batch_size)
    check_size(owner, "seed", seed, minimum=0)
    check_choice(owner, "split", split, SPLITS)
    check_size(owner, "index", index, minimum=0)
    check_memory(owner, f"a batch of batch_size={batch_size} x length={length}", BATCH_BYTES * length * batch_size)


BATCH_BYTES = 40  # bytes per (step, sequence) of a generated batch at most: inputs, targets, weights, the draws


@dataclass(frozen=True)
class Batch:
    """One time-major batch.

    Shapes: ``x`` (T, B, I); ``y`` (T, B) for class targets or (T, B, O) for real ones;
    ``weight`` (T, B), how much each step's loss counts (0 where a step has no target);
    ``resets`` (T, B) bool or None, True where a new sequence starts at step t.
    """

    x: torch.Tensor  # (T, B, I) inputs
    y: torch.Tensor  # (T, B) class indices or (T, B, O) real targets, aligned with x
    weight: torch.Tensor  # (T, B) loss weight of each step; 0 = no target there
    resets: torch.Tensor | None = None  # (T, B) bool: zero the state before step t; None = no resets

    def __post_init__(self) -> None:
        for name in ("x", "y", "weight"):
            check_tensor("Batch", name, getattr(self, name))
        if self.x.dim() != 3:
            raise ValueError(f"Batch: expected x with 3 dims (T, B, I), got shape {tuple(self.x.shape)}")
        T, B = self.x.shape[:2]
        for name in ("y", "weight", "resets"):
            value = getattr(self, name)
            if value is not None and tuple(value.shape[:2]) != (T, B):
                raise ValueError(f"Batch: expected {name} to start with (T, B) = {(T, B)}, "
                                 f"got shape {tuple(value.shape)}")

    @property
    def length(self) -> int:
        """T, the number of time steps."""
        return self.x.shape[0]

    @property
    def batch_size(self) -> int:
        """B, the number of lanes."""
        return self.x.shape[1]

    @property
    def has_targets(self) -> bool:
        """Whether any step of this batch carries loss weight."""
        return bool((self.weight != 0).any())

    def window(self, start: int, stop: int) -> "Batch":
        """Steps ``start:stop`` of every field (views, no copy)."""
        return Batch(self.x[start:stop], self.y[start:stop], self.weight[start:stop],
                     None if self.resets is None else self.resets[start:stop])

    def windows(self, k: int | None) -> Iterator["Batch"]:
        """Consecutive windows of ``k`` steps (the last may be shorter); ``None`` gives the whole batch."""
        if k is None:
            yield self
            return
        k = check_size("Batch.windows", "k", k)
        for start in range(0, self.length, k):
            yield self.window(start, min(start + k, self.length))

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Batch":
        """The batch on ``device``, its floating-point fields (x, real y, weight) in ``dtype`` if given."""
        def move(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype if dtype is not None and t.is_floating_point() else None)
        return replace(self, x=move(self.x), y=move(self.y), weight=move(self.weight),
                       resets=None if self.resets is None else self.resets.to(device))


def stream_lanes(lanes: Sequence[Sequence[Batch]]) -> Batch:
    """Lay sequences end to end in lanes: lane ``b`` is ``lanes[b][0]``, then ``lanes[b][1]``, ...

    Each sequence is a :class:`Batch` with B = 1; every lane must add up to the same
    length T. The result has B = ``len(lanes)`` and ``resets[t, b]`` True at the first
    step of every sequence, so a model that honours resets never lets one sequence's
    state leak into the next, wherever a TBPTT window boundary falls.
    """
    if not lanes or any(len(lane) == 0 for lane in lanes):
        raise ValueError("stream_lanes: expected at least one lane, each with at least one sequence")
    for b, lane in enumerate(lanes):
        for seq in lane:
            if seq.batch_size != 1:
                raise ValueError(f"stream_lanes: expected sequences with B = 1, got B = {seq.batch_size} in lane {b}")
    totals = [sum(seq.length for seq in lane) for lane in lanes]
    if len(set(totals)) != 1:
        raise ValueError(f"stream_lanes: expected every lane to have the same total length, got {totals}")
    columns = []
    for lane in lanes:
        resets = torch.zeros(totals[0], 1, dtype=torch.bool)  # (T, 1)
        start = 0
        for seq in lane:
            resets[start] = True
            start += seq.length
        columns.append(Batch(torch.cat([s.x for s in lane]), torch.cat([s.y for s in lane]),
                             torch.cat([s.weight for s in lane]), resets))
    return Batch(torch.cat([c.x for c in columns], dim=1), torch.cat([c.y for c in columns], dim=1),
                 torch.cat([c.weight for c in columns], dim=1), torch.cat([c.resets for c in columns], dim=1))
