r"""The scan engine: cells linear in h (:class:`~rnnkit.cells.linear.LinearCell`) in parallel over time.

``run`` has the reference engine's signature and meaning (see
:mod:`rnnkit.kernels.reference`) plus ``scan_mode``. A call computes every step's
coefficients ``(a_t, b_t)`` from the inputs at once (one product over T*B rows, through
autograd), then the states by one of the forms of :mod:`rnnkit.kernels.scan_forms`,
whose gradient is written out:

- ``"step"``: T sequential steps (what a one-token call computes, so generating
  with carried state equals running the whole sequence);
- ``"chunked"``: the exact chunked scan, about 2 sqrt(T) dispatched steps;
- ``"log"``: log-space inside chunks (Heinsen 2023), for cells with ``b_t > 0``;
- ``"fused"``: the compiled CPU loop of :mod:`rnnkit.kernels.fused.min_scan` for the built-in
  minGRU and minLSTM: the pre-activations from one product, then coefficients, scan and
  their gradients in one pass each way (built on first use; it cannot record);
- ``"triton"``: the GPU kernel of :mod:`rnnkit.kernels.triton` (CUDA tensors, Triton installed).

``scan_mode=None`` picks by :func:`choose_mode` (measured on the CPU with
``benchmarks/speed_scan.py``; on GPU not yet measured). Past a sequence's end (``lengths``) the step is
``a = 1, b = 0``: the state holds, and the output there is zero.

It can record (``record=``): the forward computes every state, and the backward's
reverse scan is every state gradient.
"""
from __future__ import annotations

import torch

from rnnkit._state import State
from rnnkit.cells.linear import LinearCell
from rnnkit.kernels import scan_forms
from rnnkit.kernels.fused import min_scan
from rnnkit.kernels.record import Recorder, Recording
from rnnkit.kernels.reference import reverse_time, zero_padding

MODES = ("step", "chunked", "log", "fused", "triton")
DTYPES = (torch.float32, torch.float64)
SHORT = 16  # at or below this many steps: sequential (a chunked scan would still dispatch ~2 sqrt(T) steps)
WIDE = 4096  # B*H at or above which a sequential step beat the chunked scan on the CPU (measured, see choose_mode)


def serves(cell) -> bool:
    """Whether the scan computes ``cell``'s numbers: a LinearCell whose step is LinearCell's own."""
    return isinstance(cell, LinearCell) and type(cell).step is LinearCell.step


def unsupported(cell, dtype: torch.dtype) -> str | None:
    """Why this engine cannot run ``cell`` on ``dtype``, or None if it can."""
    if not serves(cell):
        return (f"scan runs cells linear in h (subclasses of rnnkit.cells.LinearCell that keep its step), "
                f"not {type(cell).__name__}")
    if dtype not in DTYPES:
        return f"scan runs float32 and float64, not {dtype}"
    return None


def triton_missing(device: torch.device) -> str | None:
    """Why the Triton form cannot run on ``device``, or None if it can."""
    if device.type != "cuda":
        return f"the Triton scan runs on CUDA devices, not {device.type}"
    from rnnkit.kernels.triton import missing
    return missing()


def fused_problem(cell, device: torch.device) -> str | None:
    """Why the compiled loop cannot run ``cell`` on ``device`` (building it on first call), or None."""
    if device.type != "cpu":
        return f"the compiled scan runs on the CPU, not {device.type}"
    if not min_scan.serves(cell):
        return f"the compiled scan computes MinGRUCell and MinLSTMCell only, not {type(cell).__name__}"
    return min_scan.missing()


def mode_problem(cell, mode: str, device: torch.device, recording: bool = False) -> str | None:
    """Why ``mode`` cannot run ``cell`` on ``device`` (``recording``: with ``record=``), or None."""
    if mode == "fused":
        if recording:
            return "scan_mode='fused' cannot record per-step state gradients (its backward is compiled)"
        return fused_problem(cell, device)
    if mode == "log" and not cell.positive_b:
        return (f"scan_mode='log' needs b_t > 0, which {type(cell).__name__} does not guarantee "
                f"(activation={getattr(cell, 'activation', None)!r}); use 'chunked' or 'step'")
    if mode == "triton":
        return triton_missing(device)
    return None


def choose_mode(cell, T: int, lanes: int, device: torch.device, recording: bool = False) -> str:
    """The form ``scan_mode=None`` runs for T steps of ``lanes`` (B*H) state values.

    Measured on the CPU (benchmarks/speed_scan.py, figures in benchmarks/RESULTS.md): the
    compiled loop is the fastest form wherever it serves the cell; without it, step mode beat
    the chunked scan at B*H = 4,096 (T = 512 and 4,096) and lost to it at B*H = 256,
    T = 65,536, where each sequential step is too small to pay its dispatch. Not measured
    (no GPU was lent): on CUDA the Triton kernel is taken where it can run, else the log-space
    form (chunked where b may be negative), since both avoid T dispatched steps. Traced
    (torch.export, ONNX): the torch-op forms, chosen on T alone (the batch may be symbolic).
    """
    if torch.compiler.is_compiling():
        return "step" if T <= SHORT else "chunked"
    if device.type == "cpu" and not recording and fused_problem(cell, device) is None:
        return "fused"
    if T <= SHORT:
        return "step"
    if device.type == "cuda":
        if triton_missing(device) is None:
            return "triton"
        return "log" if cell.positive_b else "chunked"
    return "step" if lanes >= WIDE else "chunked"


FORM_SUMMARY = {"step": "T sequential steps", "chunked": "exact chunked scan, about 2 sqrt(T) steps",
                "log": "log-space scan inside chunks (Heinsen 2023)", "fused": "compiled CPU loop",
                "triton": "Triton GPU kernel"}


def describe(cell, steps: int, batch: int, device: torch.device, options: dict) -> str:
    """Which form a call of ``steps`` steps over ``batch`` sequences runs, and why not the compiled loop."""
    mode = options.get("scan_mode")
    how = "requested" if mode is not None else "chosen"
    mode = choose_mode(cell, steps, batch * cell.hidden_size, device) if mode is None else mode
    line = f"scan form {mode!r} ({FORM_SUMMARY[mode]}), {how} for T={steps} on {device.type}"
    if mode != "fused" and device.type == "cpu":
        line += f"; compiled loop: {fused_problem(cell, device) or 'not requested'}"
    return line


def run(cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None, reverse: bool = False,
        scan_mode: str | None = None, *, record: Recorder | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state`` (B, H) by a linear scan."""
    reason = unsupported(cell, x.dtype)
    if reason is not None:
        raise ValueError(f"engine 'scan' cannot run this request: {reason}")
    T = x.shape[0]
    if scan_mode is not None and scan_mode not in MODES:
        raise ValueError(f"engine 'scan': unknown scan_mode {scan_mode!r}; valid values are "
                         f"{', '.join(map(repr, MODES))}")
    mode = choose_mode(cell, T, x.shape[1] * cell.hidden_size, x.device, record is not None) \
        if scan_mode is None else scan_mode
    problem = mode_problem(cell, mode, x.device, record is not None)
    if problem is not None:
        raise ValueError(f"engine 'scan': {problem}")
    if lengths is not None and bool((lengths == T).all()):
        lengths = None
    alive = None
    if lengths is not None:
        x = zero_padding(x, lengths)
        alive = (torch.arange(T).unsqueeze(1) < lengths).to(x.device).unsqueeze(-1)  # (T, B, 1)
    if reverse:
        x = reverse_time(x, lengths)  # the cell reads each sequence backwards; the scan runs forwards
    if mode == "fused":
        h = min_scan.states(cell, x, state, lengths)  # (T, B, H), held past each end
        return _finish(h, alive, lengths, reverse)
    if mode == "log":
        a, b = cell.log_coefficients(x)  # (T, B, H) each, logs
        hold = (0.0, float("-inf"))  # log 1, log 0
    else:
        a, b = cell.coefficients(x)  # (T, B, H) each
        hold = (1.0, 0.0)
    if alive is not None:
        a, b = a.masked_fill(~alive, hold[0]), b.masked_fill(~alive, hold[1])
    form = {"step": "sequential"}.get(mode, mode)
    tap = None
    if record is not None:
        tap = _Tap(record, Recording(cell, x, lengths, reverse, (), False, "scan"), alive)
    h = scan_forms.linear_scan(a.contiguous(), b.contiguous(), state, form=form,
                               tap=None if tap is None else tap.backward)  # (T, B, H)
    if tap is not None:
        tap.forward(state, h)
    return _finish(h, alive, lengths, reverse)


def _finish(h: torch.Tensor, alive: torch.Tensor | None, lengths: torch.Tensor | None,
            reverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """States (T, B, H), held past each end -> (outputs zero past each end, in input order; final states)."""
    final = h[-1]  # past each end the state held, so h_T is each sequence's last state
    out = h if alive is None else h.masked_fill(~alive, 0)
    if reverse:
        out = reverse_time(out, lengths)
    return out, final


class _Tap:
    """Fills the call's Recording: states h_0 .. h_T from the forward, dL/dh_t from the backward's scan."""

    def __init__(self, record: Recorder, recording: Recording, alive: torch.Tensor | None) -> None:
        self.record, self.recording, self.alive = record, recording, alive

    def forward(self, start: torch.Tensor, h: torch.Tensor) -> None:
        self.recording.state_parts = (torch.cat([start.detach().unsqueeze(0), h.detach()]),)  # (T+1, B, H)
        self.record.add(self.recording)

    def backward(self, g: torch.Tensor) -> None:
        """``g`` (T, B, H): total state gradients; past a sequence's end no step happened, so 0."""
        self.recording.grad_parts = (g if self.alive is None else g.masked_fill(~self.alive, 0),)
