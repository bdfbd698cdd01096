"""Engine registry and ``engine="auto"`` selection.

An engine has the reference engine's signature and meaning
(see :mod:`rnnkit.kernels.reference`) and declares what it can do: which cells and
dtypes (``unsupported``), which extra options, and whether it can record per-step
states and their gradients (``record=``, :mod:`rnnkit.kernels.record`).
``"auto"`` takes the first engine of :func:`auto_order` that serves the request. The
order is a measured rule, not a guess (``benchmarks/speed_cpu.py``, figures in
``benchmarks/RESULTS.md``); the reference loop serves every cell. Selection reads
only these declarations; ``rnnkit.explain`` (in :mod:`rnnkit.layers`) reports them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch

from rnnkit._checks import check_choice
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.kernels import bptt, native, reference, scan
from rnnkit.kernels.fused import recurrent as fused_loops
from rnnkit.kernels.record import Recorder
from rnnkit.kernels.reference import under_transform
from rnnkit.kernels.triton import recurrent as triton_loops


@dataclass(frozen=True)
class Engine:
    name: str  # the engine= value that selects it
    run: Callable  # run(cell, x, state, lengths=None, reverse=False, **options, record=None)
    unsupported: Callable  # unsupported(cell, dtype) -> reason it cannot run them, or None
    options: frozenset  # keyword options of run beyond the shared signature
    cannot_record: str | None  # why run takes no record= (per-step states and gradients), or None: it can
    summary: str  # one line for reports
    describe: Callable | None = None  # describe(cell, steps, batch, device, options) -> how it runs a call, or None

    @property
    def records(self) -> bool:
        """Whether ``run(..., record=recorder)`` records per-step states and their gradients."""
        return self.cannot_record is None


def _serves_all(cell, dtype) -> None:
    return None


ENGINES: dict[str, Engine] = {
    "native": Engine("native", native.run, native.unsupported, frozenset(),
                     "torch's fused kernel runs the whole sequence in one call",
                     "torch's fused kernels (oneDNN/ATen on CPU, cuDNN on GPU)"),
    "fused": Engine("fused", fused_loops.run, fused_loops.unsupported, frozenset({"checkpoint_every"}),
                    "its compiled loops do not hand out per-step state gradients; 'bptt' records the same numbers",
                    "bptt with each time loop compiled (C++, built on first use)", fused_loops.describe),
    "triton": Engine("triton", triton_loops.run, triton_loops.unsupported, frozenset({"checkpoint_every"}),
                     "its kernels do not hand out per-step state gradients; 'bptt' records the same numbers",
                     "bptt with each time loop one persistent Triton kernel (CUDA)", triton_loops.describe),
    "bptt": Engine("bptt", bptt.run, bptt.unsupported, frozenset({"checkpoint_every"}), None,
                   "hand-written backpropagation through time"),
    "scan": Engine("scan", scan.run, scan.unsupported, frozenset({"scan_mode"}), None,
                   "linear-recurrence scan, parallel over time, for cells linear in h (minGRU, minLSTM)", scan.describe),
    "reference": Engine("reference", reference.run, _serves_all, frozenset(), None,
                        "Python loop over time with autograd; runs any Cell"),
}

AUTO_ORDER = ("native", "bptt", "reference")  # on GPUs (cuDNN)
TRITON_AFTER_CUDNN = ("native", "triton", "bptt", "reference")  # cuDNN, then Triton for what cuDNN cannot run
TRITON_FIRST = ("triton", "native", "bptt", "reference")
# GPUs on which benchmarks/speed_gpu.py's correctness check of the triton engine passed, as (device name,
# date). auto runs code on a GPU only once it has been seen right there: elsewhere the engine is taken only
# when named. None is recorded yet: no GPU has been available to run the check on.
TRITON_CHECKED: tuple[tuple[str, str], ...] = ()
# GPU measurements (benchmarks/speed_gpu.py) where the triton engine beat cuDNN, forward and backward, as
# (device name, date, cell class, dtype, largest batch, largest hidden size). auto puts triton before cuDNN
# only on a row here, never on a guess. None is recorded yet.
TRITON_MEASURED_FASTER: tuple[tuple[str, str, type, torch.dtype, int, int], ...] = ()
FUSED_FIRST = ("fused", "bptt", "native", "reference")
NATIVE_FIRST = ("native", "fused", "bptt", "reference")
SCAN_FIRST = ("scan", "reference")  # cells linear in h: no other engine serves them
ENGINE_NAMES = ("auto", *ENGINES)


def auto_order(cell, training: bool, batch: int = 1) -> tuple[str, ...]:
    """Engines fastest first for this request, as measured with benchmarks/speed_cpu.py on the CPU
    (figures in benchmarks/RESULTS.md, issue 11).

    Elman and GRU cells: the compiled loops (fused) at every measured size, forward and
    backward; then bptt, where the kernels cannot be built. LSTM cells: fused up to
    ``SMALL_ROWS`` sequences (its in-register product) and whenever torch has no kernel for
    the cell (layer norm); oneDNN (native) above, where its per-step products beat MKL's.
    The order is the same for training and inference (``training`` is kept for callers).
    Cells linear in h (minGRU, minLSTM): the scan, on every device. On GPUs: cuDNN first, then, on a
    device in ``TRITON_CHECKED``, the Triton kernels for what cuDNN cannot run (layer norm), then bptt;
    Triton before cuDNN only where ``TRITON_MEASURED_FASTER`` records a measurement on this device
    showing it faster.
    """
    if scan.serves(cell):
        return SCAN_FIRST
    on_gpu = getattr(cell, "weight_hh", None) is not None and cell.weight_hh.device.type != "cpu"
    if on_gpu:
        return _gpu_order(cell, batch)
    wide = batch > fused_loops.SMALL_ROWS
    if isinstance(cell, LSTMCell) and wide and native.unsupported(cell, cell.weight_hh.dtype) is None:
        return NATIVE_FIRST
    return FUSED_FIRST


def _gpu_order(cell, batch: int) -> tuple[str, ...]:
    """The GPU order: where the triton engine stands follows only what was recorded for this device."""
    if not TRITON_CHECKED:
        return AUTO_ORDER
    device = torch.cuda.get_device_name(cell.weight_hh.device)
    if device not in {name for name, _ in TRITON_CHECKED}:
        return AUTO_ORDER
    faster = any(name == device and isinstance(cell, kind) and cell.weight_hh.dtype == dtype and batch <= rows
                 and cell.hidden_size <= width for name, _, kind, dtype, rows, width in TRITON_MEASURED_FASTER)
    return TRITON_FIRST if faster else TRITON_AFTER_CUDNN


def check_engine(owner: str, engine) -> str:
    """Validate an ``engine=`` argument; the error lists the valid names."""
    if not isinstance(engine, str):
        raise TypeError(f"{owner}: expected engine to be a str, one of {', '.join(ENGINE_NAMES)}; "
                        f"got {type(engine).__name__}")
    return check_choice(owner, "engine", engine, ENGINE_NAMES)


def rejection(engine: Engine, cell, dtype: torch.dtype, options: dict, recording: bool = False) -> str | None:
    """Why ``engine`` cannot serve this request (``recording``: with ``record=``), or None."""
    extra = sorted(k for k, v in options.items() if v is not None and k not in engine.options)
    if extra:
        return f"it has no {', '.join(extra)} option"
    if recording and not engine.records:
        return f"it cannot record per-step states: {engine.cannot_record}"
    return engine.unsupported(cell, dtype)


def choose(cell, dtype: torch.dtype, options: dict, training: bool = True, batch: int = 1,
           recording: bool = False) -> str:
    """The engine ``"auto"`` picks: the first of :func:`auto_order` that serves the request."""
    reasons = {}
    for name in auto_order(cell, training, batch):
        reasons[name] = rejection(ENGINES[name], cell, dtype, options, recording)
        if reasons[name] is None:
            return name
    raise ValueError(f"no engine can run {type(cell).__name__} on {dtype} with {options}"
                     + (" and record per-step states" if recording else "") + ": "
                     + "; ".join(f"{n}: {r}" for n, r in reasons.items()))


def recording_engine(engine: str, cell, dtype: torch.dtype, options: dict, record, training: bool = True,
                     batch: int = 1) -> str:
    """The engine that runs a request with the recorder ``record``.

    ``"auto"``: the first engine of the measured order that can record. A named engine
    that cannot record raises, unless ``record.fallback``: then that first engine runs
    and ``record`` notes which engine replaced which.
    """
    if engine == "auto":
        return choose(cell, dtype, options, training, batch, recording=True)
    reason = ENGINES[engine].cannot_record
    if reason is None:
        return engine
    if not record.fallback:
        able = ", ".join(repr(n) for n, e in ENGINES.items() if e.records)
        raise ValueError(f"engine {engine!r} cannot record per-step states: {reason}. Record on one that can "
                         f"({able} or 'auto'), or record with fallback=True to run one of them instead")
    used = choose(cell, dtype, options, training, batch, recording=True)
    record.replaced(engine, used, reason)
    return used


def select(engine: str, cell, dtype: torch.dtype, options: dict | None = None, training: bool = True,
           batch: int = 1, record=None) -> Callable:
    """``run`` of the named engine (``"auto"``: chosen) with the options bound; raises if it cannot serve.

    ``record``: a :class:`~rnnkit.kernels.record.Recorder`, passed on as ``run(..., record=record)``
    to an engine that can record (see :func:`recording_engine`).
    """
    options = options or {}
    if record is None and under_transform():
        return ENGINES["reference"].run  # plain torch ops: what grad, jacrev and vmap can transform
    if record is not None:
        name = recording_engine(engine, cell, dtype, options, record, training, batch)
    else:
        name = choose(cell, dtype, options, training, batch) if engine == "auto" else engine
    if name in ("fused", "triton", "bptt") and torch.compiler.is_compiling():
        # traced (torch.export, ONNX): fake tensors and sizes that may be symbolic, which the compiled loops
        # and bptt's size-tuned buffers cannot take; the reference engine's plain ops trace as they are, with
        # the same numbers (checkpoint_every saves memory for a backward; a traced graph runs forward only)
        return ENGINES["reference"].run
    if name == "fused" and torch.is_autocast_enabled("cpu"):
        name = "bptt"  # autocast mixes dtypes inside the step: the compiled loops take one; bptt casts (bptt.run)
    elif name == "native" and engine == "auto" and torch.is_autocast_enabled("cpu") and bptt.unsupported(
            cell, dtype) is None:
        name = "bptt"  # oneDNN has no bfloat16 LSTM without AVX-512 BF16 (torch.nn's LSTM fails there too)
    chosen = ENGINES[name]
    reason = rejection(chosen, cell, dtype, options)
    if reason is not None:
        raise ValueError(f"engine {name!r} cannot run {type(cell).__name__} on {dtype}: {reason}. "
                         "Use engine='auto' to pick one that can.")
    bound = {k: v for k, v in options.items() if v is not None}
    if record is not None:
        bound["record"] = record
    return partial(chosen.run, **bound) if bound else chosen.run


def run_recorded(cell, x: torch.Tensor, state=None, lengths: torch.Tensor | None = None, reverse: bool = False):
    """The :class:`~rnnkit.kernels.record.Recording` of ``cell`` run once over ``x`` (T, B, I) from ``state``
    (zeros if None) on the fastest engine that can record; the current grad mode applies."""
    if state is None:
        state = cell.init_state(x.shape[1], x.device, x.dtype)
    recorder = Recorder()
    select("auto", cell, x.dtype, training=torch.is_grad_enabled(), batch=x.shape[1], record=recorder)(
        cell, x, state, lengths, reverse)
    return recorder[0]
