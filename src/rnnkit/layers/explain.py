"""``rnnkit.explain(layer, x)``: which engine runs a layer's cells on an input, and why.

It reads the layer (its first cell, ``engine=`` and options, the batch size and grad
mode) and asks :mod:`rnnkit.kernels.dispatch`, which knows only the engines'
declarations, for its verdicts.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import PackedSequence

from rnnkit.kernels.dispatch import ENGINES, auto_order, choose, rejection


@dataclass(frozen=True)
class Explanation:
    """Which engine runs a layer's cells, and why each other engine was rejected or not chosen."""

    requested: str  # the layer's engine= value
    chosen: str  # the engine that runs
    verdicts: dict  # engine name -> reason it was rejected, or None if it could serve
    order: tuple  # the measured order "auto" follows for this cell and mode
    training: bool  # whether gradients are needed (the order can differ)
    detail: str | None = None  # how the chosen engine runs this call (e.g. the scan's form), if it says

    def __str__(self) -> str:
        lines = [f"engine={self.requested!r} -> runs {self.chosen!r} ({ENGINES[self.chosen].summary})"]
        for name, reason in self.verdicts.items():
            if name == self.chosen:
                continue
            if reason is not None:
                lines.append(f"  {name}: rejected, {reason}")
            elif self.requested == "auto":
                mode = "training" if self.training else "inference"
                lines.append(f"  {name}: could serve, not chosen: {self.chosen!r} comes first in the order "
                             f"measured for {mode}: {' > '.join(self.order)}")
            else:
                lines.append(f"  {name}: could serve, not requested")
        if self.detail:
            lines.insert(1, f"  {self.detail}")
        return "\n".join(lines)


def needs_grad(module: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether running ``module`` on ``x`` now records a graph for backward."""
    return torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters()))


def explain(layer, input) -> Explanation:
    """Report which engine ``layer`` would use on ``input`` (in the current grad mode) and why."""
    data = input.data if isinstance(input, PackedSequence) else input
    cell = layer.cells[0]
    options = layer.engine_options()
    training = needs_grad(layer, data)
    batch = 1 if data.dim() < 3 else data.shape[0 if layer.batch_first else 1]
    if isinstance(input, PackedSequence):
        batch = int(input.batch_sizes[0])
    verdicts = {name: rejection(e, cell, data.dtype, options) for name, e in ENGINES.items()}
    chosen = choose(cell, data.dtype, options, training, batch) if layer.engine == "auto" else layer.engine
    if verdicts[chosen] is not None:
        raise ValueError(f"engine {chosen!r} cannot run {type(cell).__name__} on {data.dtype}: {verdicts[chosen]}")
    describe = ENGINES[chosen].describe
    steps = _steps(layer, input, data)
    detail = None if describe is None else describe(cell, steps, batch, data.device, options)
    return Explanation(layer.engine, chosen, verdicts, auto_order(cell, training, batch), training, detail)


def _steps(layer, input, data) -> int:
    """T of the input: a PackedSequence's longest, else the time dim."""
    if isinstance(input, PackedSequence):
        return int(input.batch_sizes.numel())
    if data.dim() < 3:
        return data.shape[0]
    return data.shape[1 if layer.batch_first else 0]
