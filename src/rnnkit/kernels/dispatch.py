"""Engine registry, ``engine="auto"`` selection, and :func:`explain`.

An engine has the reference engine's signature and meaning
(see :mod:`rnnkit.kernels.reference`) and says why it cannot serve a request.
``"auto"`` takes the first engine in :data:`AUTO_ORDER` that serves the request; the
order is a measured rule, not a guess: on the benchmarks in ``benchmarks/speed_cpu.py``
(figures in ``benchmarks/RESULTS.md``) torch's fused kernels were fastest wherever they
apply, the hand-written bptt engine next (3-4x faster than the reference loop), and
the reference loop serves every cell.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch

from rnnkit._checks import check_choice
from rnnkit.kernels import bptt, native, reference


@dataclass(frozen=True)
class Engine:
    name: str  # the engine= value that selects it
    run: Callable  # run(cell, x, state, lengths=None, reverse=False, **options)
    unsupported: Callable  # unsupported(cell, dtype) -> reason it cannot run them, or None
    options: frozenset  # keyword options of run beyond the shared signature
    summary: str  # one line for reports


def _serves_all(cell, dtype) -> None:
    return None


ENGINES: dict[str, Engine] = {
    "native": Engine("native", native.run, native.unsupported, frozenset(),
                     "torch's fused kernels (oneDNN/ATen on CPU, cuDNN on GPU)"),
    "bptt": Engine("bptt", bptt.run, bptt.unsupported, frozenset({"checkpoint_every"}),
                   "hand-written backpropagation through time"),
    "reference": Engine("reference", reference.run, _serves_all, frozenset(),
                        "Python loop over time with autograd; runs any Cell"),
}

AUTO_ORDER = ("native", "bptt", "reference")  # fastest first, as measured
ENGINE_NAMES = ("auto", *ENGINES)


def check_engine(owner: str, engine) -> str:
    """Validate an ``engine=`` argument; the error lists the valid names."""
    if not isinstance(engine, str):
        raise TypeError(f"{owner}: expected engine to be a str, one of {', '.join(ENGINE_NAMES)}; "
                        f"got {type(engine).__name__}")
    return check_choice(owner, "engine", engine, ENGINE_NAMES)


def rejection(engine: Engine, cell, dtype: torch.dtype, options: dict) -> str | None:
    """Why ``engine`` cannot serve this request, or None."""
    extra = sorted(k for k, v in options.items() if v is not None and k not in engine.options)
    if extra:
        return f"it has no {', '.join(extra)} option"
    return engine.unsupported(cell, dtype)


def choose(cell, dtype: torch.dtype, options: dict) -> str:
    """The engine ``"auto"`` picks: the first of AUTO_ORDER that serves the request."""
    reasons = {}
    for name in AUTO_ORDER:
        reasons[name] = rejection(ENGINES[name], cell, dtype, options)
        if reasons[name] is None:
            return name
    raise ValueError(f"no engine can run {type(cell).__name__} on {dtype} with {options}: "
                     + "; ".join(f"{n}: {r}" for n, r in reasons.items()))


def select(engine: str, cell, dtype: torch.dtype, options: dict | None = None) -> Callable:
    """``run`` of the named engine (``"auto"``: chosen) with the options bound; raises if it cannot serve."""
    options = options or {}
    name = choose(cell, dtype, options) if engine == "auto" else engine
    chosen = ENGINES[name]
    reason = rejection(chosen, cell, dtype, options)
    if reason is not None:
        raise ValueError(f"engine {name!r} cannot run {type(cell).__name__} on {dtype}: {reason}. "
                         "Use engine='auto' to pick one that can.")
    bound = {k: v for k, v in options.items() if v is not None}
    return partial(chosen.run, **bound) if bound else chosen.run


@dataclass(frozen=True)
class Explanation:
    """Which engine runs a layer's cells, and why each other engine was rejected or not chosen."""

    requested: str  # the layer's engine= value
    chosen: str  # the engine that runs
    verdicts: dict  # engine name -> reason it was rejected, or None if it could serve

    def __str__(self) -> str:
        lines = [f"engine={self.requested!r} -> runs {self.chosen!r} ({ENGINES[self.chosen].summary})"]
        for name, reason in self.verdicts.items():
            if name == self.chosen:
                continue
            if reason is not None:
                lines.append(f"  {name}: rejected, {reason}")
            elif self.requested == "auto":
                lines.append(f"  {name}: could serve, not chosen: {self.chosen!r} comes first in the measured "
                             f"order {' > '.join(AUTO_ORDER)}")
            else:
                lines.append(f"  {name}: could serve, not requested")
        return "\n".join(lines)


def explain(layer, input) -> Explanation:
    """Report which engine ``layer`` would use on ``input`` and why the others were not used."""
    data = input.data if isinstance(input, torch.nn.utils.rnn.PackedSequence) else input
    cell = layer.cells[0]
    options = layer.engine_options()
    verdicts = {name: rejection(e, cell, data.dtype, options) for name, e in ENGINES.items()}
    chosen = choose(cell, data.dtype, options) if layer.engine == "auto" else layer.engine
    if verdicts[chosen] is not None:
        raise ValueError(f"engine {chosen!r} cannot run {type(cell).__name__} on {data.dtype}: {verdicts[chosen]}")
    return Explanation(layer.engine, chosen, verdicts)
