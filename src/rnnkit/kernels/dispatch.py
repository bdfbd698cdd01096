"""Engine registry, ``engine="auto"`` selection, and :func:`explain`.

An engine has the reference engine's signature and meaning
(see :mod:`rnnkit.kernels.reference`) and says why it cannot serve a request.
``"auto"`` takes the first engine of :func:`auto_order` that serves the request. The
order is a measured rule, not a guess (``benchmarks/speed_cpu.py``, figures in
``benchmarks/RESULTS.md``); the reference loop serves every cell.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch

from rnnkit._checks import check_choice
from rnnkit.cells import ElmanCell, GRUCell
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

AUTO_ORDER = ("native", "bptt", "reference")  # the default order, and on GPUs (cuDNN)
BPTT_FIRST = ("bptt", "native", "reference")
LARGE_STEP = 32768  # batch x hidden elements per step above which bptt's sigmoid-based tanh wins for GRUs
ENGINE_NAMES = ("auto", *ENGINES)


def auto_order(cell, training: bool, batch: int = 1) -> tuple[str, ...]:
    """Engines fastest first for this request, as measured with benchmarks/speed_cpu.py on the CPU.

    Elman cells: bptt (its tanh costs a quarter of torch's and its backward has no autograd
    nodes); GRU cells: bptt when training or when a step holds >= LARGE_STEP elements, else
    torch's kernels; LSTM cells: torch's kernels (oneDNN) in both modes.
    """
    on_gpu = getattr(cell, "weight_hh", None) is not None and cell.weight_hh.device.type != "cpu"
    if on_gpu:
        return AUTO_ORDER
    if isinstance(cell, ElmanCell):
        return BPTT_FIRST
    if isinstance(cell, GRUCell) and (training or batch * cell.hidden_size >= LARGE_STEP):
        return BPTT_FIRST
    return AUTO_ORDER


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


def choose(cell, dtype: torch.dtype, options: dict, training: bool = True, batch: int = 1) -> str:
    """The engine ``"auto"`` picks: the first of :func:`auto_order` that serves the request."""
    reasons = {}
    for name in auto_order(cell, training, batch):
        reasons[name] = rejection(ENGINES[name], cell, dtype, options)
        if reasons[name] is None:
            return name
    raise ValueError(f"no engine can run {type(cell).__name__} on {dtype} with {options}: "
                     + "; ".join(f"{n}: {r}" for n, r in reasons.items()))


def select(engine: str, cell, dtype: torch.dtype, options: dict | None = None, training: bool = True,
           batch: int = 1) -> Callable:
    """``run`` of the named engine (``"auto"``: chosen) with the options bound; raises if it cannot serve."""
    options = options or {}
    name = choose(cell, dtype, options, training, batch) if engine == "auto" else engine
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
    order: tuple  # the measured order "auto" follows for this cell and mode
    training: bool  # whether gradients are needed (the order can differ)

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
        return "\n".join(lines)


def needs_grad(module: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether running ``module`` on ``x`` now records a graph for backward."""
    return torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters()))


def explain(layer, input) -> Explanation:
    """Report which engine ``layer`` would use on ``input`` (in the current grad mode) and why."""
    data = input.data if isinstance(input, torch.nn.utils.rnn.PackedSequence) else input
    cell = layer.cells[0]
    options = layer.engine_options()
    training = needs_grad(layer, data)
    batch = 1 if data.dim() < 3 else data.shape[0 if layer.batch_first else 1]
    if isinstance(input, torch.nn.utils.rnn.PackedSequence):
        batch = int(input.batch_sizes[0])
    verdicts = {name: rejection(e, cell, data.dtype, options) for name, e in ENGINES.items()}
    chosen = choose(cell, data.dtype, options, training, batch) if layer.engine == "auto" else layer.engine
    if verdicts[chosen] is not None:
        raise ValueError(f"engine {chosen!r} cannot run {type(cell).__name__} on {data.dtype}: {verdicts[chosen]}")
    return Explanation(layer.engine, chosen, verdicts, auto_order(cell, training, batch), training)
