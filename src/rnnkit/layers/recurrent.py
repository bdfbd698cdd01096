"""Recurrent: stacks and bidirectionalises any :class:`~rnnkit.cells.Cell`."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import init as rinit
from rnnkit._checks import (DeviceError, DtypeError, ShapeError, check_bool, check_memory, check_probability,
                            check_size, check_tensor)
from rnnkit._state import State
from rnnkit.cells.base import Cell
from rnnkit.kernels import dispatch
from rnnkit.kernels.record import Recorder
from rnnkit.layers._inputs import Prepared, finish_output, prepare_input
from rnnkit.layers.explain import needs_grad
from rnnkit.layers.streaming import Streaming


class Recurrent(Streaming, nn.Module):
    r"""A multi-layer, optionally bidirectional recurrent network built from any cell.

    Layer ``l`` (and direction ``d``) runs a cell made by ``cell_factory(n)``, where
    ``n`` is ``input_size`` for the first layer and ``D * output_size`` (the previous
    layer's outputs, both directions concatenated) for the others. The reverse direction
    reads each sequence backwards within its own length; its outputs stay aligned with
    the input positions, as in torch.nn.

    Args:
        cell_factory: callable ``(input_size) -> Cell``.
        input_size: I, features of the input.
        num_layers: L, stacked layers.
        bidirectional: add a reverse direction per layer (D = 2).
        batch_first: input and output are (B, T, ·) instead of (T, B, ·).
        dropout: dropout on each layer's output except the last, in training only.
        engine: ``"auto"`` or an engine name from ``rnnkit.kernels.ENGINE_NAMES``
            (``rnnkit.explain(layer, x)`` says which runs and why).
        checkpoint_every: keep only every k-th state in forward and recompute the rest in
            backward (memory ~ T/k + k instead of T; bptt and fused engines).
        init: an initialisation name (see :mod:`rnnkit.init`) or a callable ``fn(cell)``.
        spectral_radius: scale each recurrent weight block to this spectral radius.

    Inputs: ``input, hx=None, *, lengths=None``
        - input: (T, B, I), (B, T, I) with ``batch_first``, unbatched (T, I), or a
          ``PackedSequence``.
        - hx: the cell's state structure with every component stacked over layers and
          directions: a tensor (L*D, B, H) or a tuple of such tensors; default zeros.
        - lengths: (B,) sequence lengths for a padded batch (keyword only).

    Outputs: ``output, h_n``
        - output: (T, B, D*Y) (or batch-first, unbatched, packed like the input), zero
          past each sequence's end.
        - h_n: like ``hx``, each sequence's state at its own last step.

    The parameters of each cell are adopted under torch.nn's names, e.g. ``weight_hh_l0``
    and ``weight_hh_l0_reverse``.

    ``with layer.recording() as recorder:`` records every cell's per-step states (and,
    after a backward, their gradients) of the forwards run inside it; see :meth:`recording`.

    Example::

        >>> from functools import partial
        >>> net = Recurrent(partial(GRUCell, hidden_size=8), input_size=4, num_layers=2, bidirectional=True)
        >>> out, h_n = net(torch.randn(10, 3, 4))   # out (10, 3, 16), h_n (4, 3, 8)
    """

    _state_names: tuple[str, ...] | None = None  # names of the hx components in messages
    _recorder: Recorder | None = None  # set by recording(): the engines record every call into it

    def __init__(self, cell_factory: Callable[[int], Cell], input_size: int, num_layers: int = 1, *,
                 bidirectional: bool = False, batch_first: bool = False, dropout: float = 0.0,
                 engine: str = "auto", checkpoint_every: int | None = None, init=None,
                 spectral_radius: float | None = None) -> None:
        nn.Module.__init__(self)  # not super(): the drop-ins also derive from torch.nn's layers, whose __init__ never runs
        owner = type(self).__name__
        if not callable(cell_factory):
            raise TypeError(f"{owner}: expected cell_factory to be a callable (input_size) -> Cell, "
                            f"got {type(cell_factory).__name__}")
        self.input_size = check_size(owner, "input_size", input_size)
        self.num_layers = check_size(owner, "num_layers", num_layers)
        self.bidirectional = check_bool(owner, "bidirectional", bidirectional)
        self.batch_first = check_bool(owner, "batch_first", batch_first)
        self.dropout = check_probability(owner, "dropout", dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{owner}: dropout={self.dropout} acts between stacked layers only, "
                          "so it has no effect with num_layers=1", stacklevel=2)
        self.engine = dispatch.check_engine(owner, engine)
        self.checkpoint_every = None if checkpoint_every is None else check_size(owner, "checkpoint_every",
                                                                                 checkpoint_every)
        self._cells = self._build(cell_factory)
        self._check_engine_serves(owner)
        self._initialise(init, spectral_radius)

    def engine_options(self) -> dict:
        """Options passed to the engine beyond the shared signature."""
        return {"checkpoint_every": self.checkpoint_every}

    def _check_engine_serves(self, owner: str) -> None:
        """Fail at construction, not at the first forward, when no engine can serve these cells."""
        cell = self._cells[0]
        param = next(iter(cell.parameters()), None)
        dtype = torch.get_default_dtype() if param is None else param.dtype
        try:
            dispatch.select(self.engine, cell, dtype, self.engine_options())
        except ValueError as err:
            raise ValueError(f"{owner}: {err}") from None

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def cells(self) -> tuple[Cell, ...]:
        """The cells, layer-major: ``cells[l * D + d]`` is layer l, direction d."""
        return self._cells

    def _build(self, cell_factory) -> tuple[Cell, ...]:
        owner, D = type(self).__name__, self.num_directions
        cells: list[Cell] = []
        layer_in = self.input_size
        for layer in range(self.num_layers):
            for direction in range(D):
                cell = cell_factory(layer_in)
                if not isinstance(cell, Cell):
                    raise TypeError(f"{owner}: expected cell_factory to return an rnnkit.cells.Cell, "
                                    f"got {type(cell).__name__}")
                if cell.input_size != layer_in:
                    raise ValueError(f"{owner}: cell_factory({layer_in}) returned a cell with "
                                     f"input_size={cell.input_size}")
                cell._bind(self, f"_l{layer}" + ("_reverse" if direction else ""))
                cells.append(cell)
            layer_in = D * cells[-1].output_size
        return tuple(cells)

    def _initialise(self, init, spectral_radius) -> None:
        """Validate ``init`` and ``spectral_radius`` (errors name this layer), then apply them to every cell."""
        owner = type(self).__name__
        scheme = rinit.resolve(owner, init)
        rinit.check_radius(owner, spectral_radius)
        for cell in self._cells:
            rinit.initialize(cell, scheme, spectral_radius)

    @contextmanager
    def recording(self, fallback: bool = False, recorder: Recorder | None = None) -> Iterator[Recorder]:
        """Record every engine call of the forwards run inside: ``with layer.recording() as recorder:``.

        Each call of a cell (per layer, direction and forward) adds a
        :class:`~rnnkit.kernels.record.Recording` to ``recorder.recordings``: its inputs and
        states h_0..h_T, and after a backward through the output the gradients dL/dh_t.
        Engine ``"auto"`` then runs the fastest engine that can record. A named engine that
        cannot record (``native``) raises ``ValueError``; with ``fallback=True`` the first
        engine of the measured order that can record runs instead, same weights, and
        ``recorder.note`` says so. Pass ``recorder`` to share one between layers.
        """
        recorder = Recorder(fallback) if recorder is None else recorder
        if not isinstance(recorder, Recorder):
            raise TypeError(f"{type(self).__name__}: expected recorder to be an rnnkit.kernels.Recorder or None, "
                            f"got {type(recorder).__name__}")
        previous, self._recorder = self._recorder, recorder
        try:
            yield recorder
        finally:
            self._recorder = previous

    # -- forward ---------------------------------------------------------------------
    @torch.compiler.disable  # like torch.nn's RNNs: run eagerly inside a compiled model (seconds to compile, not 30)
    def forward(self, input, hx: State | None = None, *, lengths=None):
        owner = type(self).__name__
        prep = prepare_input(owner, input, lengths, self.batch_first, self.input_size)
        self._check_like_parameters(prep.x)
        training = needs_grad(self, prep.x)
        tracing = torch.compiler.is_compiling()  # torch.export: shapes may be symbolic, so nothing may branch on them
        if not tracing:
            self._check_fits(prep.x, training)
        states = self._initial_states(hx, prep, input)
        layer_input = prep.x  # (T, B, I) for the first layer
        finals: list[State] = []
        D, record = self.num_directions, self._recorder
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                index = layer * D + direction
                cell = self._cells[index]
                if record is not None:
                    record.position = (layer, direction)
                run = dispatch.select(self.engine, cell, prep.x.dtype, self.engine_options(), training,
                                      1 if tracing else layer_input.shape[1], record)
                out, final = run(cell, layer_input, states[index], prep.lengths, reverse=direction == 1)
                outs.append(out)  # (T, B, Y)
                finals.append(final)
            layer_input = outs[0] if D == 1 else torch.cat(outs, dim=2)  # (T, B, D*Y)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return finish_output(prep, layer_input, self.batch_first), self._stack_states(finals, prep.unbatched)

    def _check_like_parameters(self, x: torch.Tensor) -> None:
        owner = type(self).__name__
        param = next(self.parameters(), None)
        if param is None:
            return
        if x.dtype != param.dtype:
            raise DtypeError(f"{owner}: expected input of dtype {param.dtype} (the dtype of the weights), "
                            f"got {x.dtype}; convert one with .to()")
        if x.device != param.device:
            raise DeviceError(f"{owner}: expected input on device {param.device} (the device of the weights), "
                             f"got {x.device}")

    def _check_fits(self, x: torch.Tensor, training: bool) -> None:
        """TooLarge before a forward whose activations would not fit in free memory (looked up past 1 GiB)."""
        T, B, H = x.shape[0], x.shape[1], max(cell.hidden_size for cell in self._cells)
        per_unit = 10 if training else 2  # (T, B, H) blocks per layer and direction: an LSTM keeps ~10 for backward
        nbytes = T * B * H * len(self._cells) * per_unit * x.element_size()
        if nbytes > 1 << 30:
            check_memory(type(self).__name__, f"a forward of {T} steps x batch {B} through {len(self._cells)} "
                         f"cell(s) of hidden_size {H}", nbytes, x.device)

    def _component_names(self, n: int) -> tuple[str, ...]:
        if self._state_names is not None and len(self._state_names) == n:
            return self._state_names
        return ("hx",) if n == 1 else tuple(f"hx[{k}]" for k in range(n))

    def _initial_states(self, hx, prep: Prepared, raw_input) -> list[State]:
        """Split ``hx`` (each component (L*D, B, ...)) into one state per cell; zeros if None."""
        owner = type(self).__name__
        x = prep.x
        B = x.shape[1]
        if hx is None:
            return [cell.init_state(B, x.device, x.dtype) for cell in self._cells]
        template = self._cells[0].init_state(B, x.device, x.dtype)  # the structure and shapes hx must have
        is_tuple = not isinstance(template, torch.Tensor)
        n = len(template) if is_tuple else 1
        names = self._component_names(n)
        if is_tuple:
            if isinstance(hx, torch.Tensor) or not isinstance(hx, (tuple, list)):
                raise TypeError(f"{owner}: expected hx as a tuple ({', '.join(names)}) of {n} tensors, "
                                f"got a {type(hx).__name__}" + (f" ({names[-1]} missing)" if n == 2 else ""))
            if len(hx) != n:
                raise ValueError(f"{owner}: expected hx as a tuple ({', '.join(names)}) of {n} tensors, "
                                 f"got {len(hx)}")
            components = list(hx)
        else:
            components = [hx]
        LD = len(self._cells)
        for k, (name, comp) in enumerate(zip(names, components)):
            check_tensor(owner, name, comp)
            per_cell = template[k] if is_tuple else template  # (B, ...)
            expected = (LD, *per_cell.shape) if not prep.unbatched else (LD, *per_cell.shape[1:])
            if tuple(comp.shape) != expected:
                raise ShapeError(f"{owner}: expected {name} of shape {expected} (num_layers*num_directions, "
                                 f"{'' if prep.unbatched else 'batch, '}size), got {tuple(comp.shape)}"
                                 + self._batch_first_hint(raw_input, comp, prep))
            if comp.dtype != x.dtype:
                raise DtypeError(f"{owner}: expected {name} of dtype {x.dtype} (the input's), got {comp.dtype}")
            if comp.device != x.device:
                raise DeviceError(f"{owner}: expected {name} on device {x.device} (the input's), got {comp.device}")
            if prep.unbatched:
                components[k] = comp.unsqueeze(1)  # (L*D, size) -> (L*D, 1, size)
        if is_tuple:
            return [tuple(comp[i] for comp in components) for i in range(LD)]
        return [components[0][i] for i in range(LD)]

    def _batch_first_hint(self, raw_input, comp: torch.Tensor, prep: Prepared) -> str:
        if prep.unbatched or prep.packed is not None or comp.dim() != 3:
            return ""
        batch_dim = 0 if self.batch_first else 1
        other = 1 - batch_dim
        if comp.shape[1] != raw_input.shape[batch_dim] and comp.shape[1] == raw_input.shape[other]:
            return (f"; its batch size {comp.shape[1]} matches the input's dim {other}: "
                    f"did you mean batch_first={not self.batch_first}?")
        return ""

    @staticmethod
    def _stack_states(finals: list[State], unbatched: bool) -> State:
        """Per-cell final states -> each component stacked to (L*D, B, ...)."""
        def stack(parts):
            s = torch.stack(parts)  # (L*D, B, ...)
            return s.squeeze(1) if unbatched else s
        if isinstance(finals[0], torch.Tensor):
            return stack(finals)
        return tuple(stack([f[k] for f in finals]) for k in range(len(finals[0])))

    def extra_repr(self) -> str:
        s = f"input_size={self.input_size}, num_layers={self.num_layers}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.engine != "auto":
            s += f", engine={self.engine!r}"
        if self.checkpoint_every:
            s += f", checkpoint_every={self.checkpoint_every}"
        return s
