"""``rnnkit export``: a trained model as an ONNX step graph with explicit state, or its weights as safetensors.

**ONNX.** The graph is one time step of the model with the recurrent state as plain
inputs and outputs, so a deployed model streams: feed ``x`` and the state, get ``y`` and
the next state, feed that state back with the next input. Inputs: ``x`` ((B,) int64
token ids for a language model; (B, I) float32 values otherwise) and the state
components (``h``, and ``c`` for an LSTM), each (L, B, ·) as the layer's ``hx``, zeros to
start; outputs: ``y`` (the model's output at that step: (B, V) logits, (B, K) forecasts
or (B, O) predictions) and ``h_out`` (``c_out``). The batch B is free. The graph is traced
through the layer's own engine with ``torch.onnx.export`` (dynamo) and, where onnxruntime
is installed, checked before it is written: a random sequence stepped through
onnxruntime must give the outputs and final state of rnnkit's forward over the whole
sequence to within ``TOLERANCE``. The checkpoint's settings (vocabulary, normalisation,
horizon) travel in the model's metadata (``rnnkit.config``, JSON), so a deployment needs
no other file. Bidirectional layers and classifiers read whole sequences, so they cannot stream;
they are refused with the reason.

**safetensors** (:mod:`rnnkit.train.weights_file`): the weights alone, no code, loadable into
the same model class, or read by every rnnkit command that takes a checkpoint.
"""
from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnkit._write import atomic_write
from rnnkit.layers import Recurrent
from rnnkit.models import LanguageModel, LengthsFromMask, SequenceClassifier
from rnnkit.train import weights_file
from rnnkit.train.checkpoint import FORMAT as CHECKPOINT_FORMAT

FORMATS = ("onnx", "safetensors")
SUFFIXES = {"onnx": ".onnx", "safetensors": weights_file.SUFFIX}
TOLERANCE = 1e-5  # largest |onnxruntime - rnnkit| accepted over the check's outputs and states
CHECK_STEPS, CHECK_BATCH = 8, 3  # the check's sequence: a batch other than the traced one shows B is free
TRACE_BATCH = 2


@dataclass
class Exported:
    """What :func:`export` wrote and how the check went."""

    path: Path
    inputs: tuple  # input names
    outputs: tuple  # output names
    max_diff: float | None  # largest |onnxruntime - rnnkit| of the check, None where it did not run
    note: str  # one line on the check


def onnx_missing() -> str | None:
    """Why ONNX export cannot run here, or None."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        return (f"ONNX export needs the onnx and onnxscript packages ({exc.name} is missing): "
                f"pip install 'rnnkit[export]'")
    return None


def recurrent_layer(model: nn.Module) -> Recurrent:
    """The one rnnkit recurrent stack inside ``model`` (ValueError if it has none)."""
    layer = next((m for m in model.modules() if isinstance(m, Recurrent)), None)
    if layer is None:
        raise ValueError(f"{type(model).__name__} holds no rnnkit recurrent layer to export")
    return layer


class StepGraph(nn.Module):
    """One time step of a ``model(x (T, B, ...), state) -> (y (T, B, ·), state)`` with the state flattened:
    ``forward(x_t, *state) -> (y_t, *state)``: what the ONNX graph computes."""

    def __init__(self, model: nn.Module, tokens: bool, components: int) -> None:
        super().__init__()
        self.model, self.tokens, self.components = model, tokens, components

    def forward(self, x_t: torch.Tensor, *state: torch.Tensor):
        x = x_t.reshape(1, -1) if self.tokens else x_t.unsqueeze(0)  # (1, B) ids or (1, B, I)
        y, new = self.model(x, state[0] if self.components == 1 else tuple(state))
        new = (new,) if isinstance(new, torch.Tensor) else tuple(new)
        return (y[0], *new)


def streamable(model: nn.Module) -> tuple[Recurrent, bool, int]:
    """The layer, whether the model reads token ids, and how many state components; ValueError with the
    reason if the model cannot run one step at a time."""
    if isinstance(model, (SequenceClassifier, LengthsFromMask)):
        raise ValueError("a sequence classifier reads each whole sequence before it answers, so it has no "
                         "step graph with carried state; export its weights with --format safetensors")
    layer = recurrent_layer(model)
    if layer.bidirectional:
        raise ValueError("its recurrent layer is bidirectional: the reverse direction reads each sequence from "
                         "its end, so it cannot stream; export its weights with --format safetensors")
    state = layer.cells[0].init_state(1, torch.device("cpu"), torch.float32)
    return layer, isinstance(model, LanguageModel), 1 if isinstance(state, torch.Tensor) else len(state)


def _example(model: nn.Module, layer: Recurrent, tokens: bool, steps: int, batch: int, generator: torch.Generator):
    """A random input sequence (steps, batch, ...) and a random starting state for the model."""
    if tokens:
        x = torch.randint(model.vocab_size, (steps, batch), generator=generator)
    else:
        x = torch.randn(steps, batch, layer.input_size, generator=generator)
    template = layer.cells[0].init_state(batch, torch.device("cpu"), torch.float32)  # per component (B, ·)
    parts = (template,) if isinstance(template, torch.Tensor) else tuple(template)
    state = tuple(0.5 * torch.randn(len(layer.cells), *p.shape, generator=generator) for p in parts)  # (L, B, ·)
    return x, state


def state_names(components: int) -> tuple[tuple, tuple]:
    names = ("h", "c")[:components] if components <= 2 else tuple(f"state{k}" for k in range(components))
    return names, tuple(f"{n}_out" for n in names)


@contextmanager
def _quiet():
    """The exporter's progress prints, warnings and log lines stay out of rnnkit's one-line output."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def onnx_bytes(model: nn.Module, config: dict) -> tuple[bytes, tuple, tuple, tuple]:
    """The ONNX step graph of ``model`` (in eval mode) with ``config`` in its metadata; and its input names,
    output names and (tokens, components) for :func:`check_onnx`."""
    problem = onnx_missing()
    if problem:
        raise ValueError(problem)
    layer, tokens, components = streamable(model)
    names, out_names = state_names(components)
    graph = StepGraph(model.eval(), tokens, components).eval()
    x, state = _example(model, layer, tokens, 1, TRACE_BATCH, torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch")
    dynamic = ({0: batch}, tuple({1: batch} for _ in range(components)))
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(graph, (x[0], *state), None, dynamo=True, input_names=["x", *names],
                                    output_names=["y", *out_names], dynamic_shapes=dynamic, verbose=False)
    proto = program.model_proto
    for key, value in (("rnnkit.config", json.dumps(config)), ("rnnkit.inputs", _describe(tokens, names)),
                       ("rnnkit.format", "rnnkit-onnx-step-1")):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString(), ("x", *names), ("y", *out_names), (tokens, components)


def _describe(tokens: bool, names: tuple) -> str:
    x = "x (B,) int64 token ids" if tokens else "x (B, I) float32"
    outs = ", ".join(n + "_out" for n in names)
    return f"{x}; {', '.join(names)} (L, B, ·) float32 state, zeros to start; outputs y and {outs}"


def check_onnx(raw: bytes, model: nn.Module, kind: tuple) -> tuple[float | None, str]:
    """Step a random sequence through onnxruntime and compare with rnnkit's whole-sequence forward:
    (largest difference over every output and the final state, one line); (None, why) without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None, "not checked: onnxruntime is not installed (pip install onnxruntime)"
    tokens, components = kind
    layer = recurrent_layer(model)
    x, state = _example(model, layer, tokens, CHECK_STEPS, CHECK_BATCH, torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, final = model(x, state[0] if components == 1 else state)
    final = (final,) if isinstance(final, torch.Tensor) else tuple(final)
    session = onnxruntime.InferenceSession(raw, providers=["CPUExecutionProvider"])
    names, _ = state_names(components)
    carried = [s.numpy() for s in state]
    worst = 0.0
    for t in range(CHECK_STEPS):
        y, *carried = session.run(None, {"x": x[t].numpy(), **dict(zip(names, carried))})
        worst = max(worst, float(np.abs(y - expected[t].numpy()).max()))
    for got, want in zip(carried, final):
        worst = max(worst, float(np.abs(got - want.numpy()).max()))
    line = (f"checked with onnxruntime {onnxruntime.__version__}: {CHECK_STEPS} steps of batch {CHECK_BATCH} "
            f"stepped with carried state, max |difference| from rnnkit {worst:.2g} (tolerance {TOLERANCE:g})")
    return worst, line


def save(model: nn.Module, path, fmt: str = "onnx", *, config: dict | None = None, step: int = 0,
         check: bool = True) -> Exported:
    """Write ``model`` (any rnnkit model or layer: ``LanguageModel``, ``Forecaster``, ``SequenceModel``, a
    unidirectional ``rnnkit.LSTM``...) to ``path`` as ``fmt`` (``"onnx"`` or ``"safetensors"``), with
    ``config`` (plain values, e.g. a checkpoint's settings) in its metadata. ONNX is checked with onnxruntime
    first (unless ``check=False``); if the check fails nothing is written (ValueError naming the difference)."""
    path, config = Path(path), {} if config is None else config
    if fmt not in FORMATS:
        raise ValueError(f"expected a format among {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "safetensors":
        atomic_write(path, weights_file.to_bytes(model.state_dict(), config, step, CHECKPOINT_FORMAT))
        names = tuple(model.state_dict())
        return Exported(path, names, (), None, f"{len(names)} tensors and the run's settings; no optimizer state")
    raw, inputs, outputs, kind = onnx_bytes(model, config)
    worst, line = check_onnx(raw, model, kind) if check else (None, "not checked (--no-check)")
    if worst is not None and not worst <= TOLERANCE:
        raise ValueError(f"the ONNX graph disagrees with rnnkit by {worst:.3g} (> {TOLERANCE:g}); nothing written")
    atomic_write(path, raw)
    return Exported(path, inputs, outputs, worst, line)
