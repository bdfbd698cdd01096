"""The cell contract: one time step of a recurrence, and nothing about time.

A cell owns its parameters and the math of one step::

    y_t, state_t = cell.step(x_t, state_{t-1})
    state_0      = cell.init_state(batch, device, dtype)

``x_t`` is ``(B, I)``; ``y_t`` is ``(B, cell.output_size)``; the state is a tensor or a
tuple of tensors, each with the batch in dim 0, and always the same structure for a
given cell. Engines (``rnnkit.kernels``) own the time axis; layers
(``rnnkit.layers``) own stacking and directions.
"""
from __future__ import annotations

import abc
import math
from collections import OrderedDict
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys

from rnnkit._checks import check_memory, check_size, check_tensor, element_bytes
from rnnkit._state import State, map_state

MATH = ("step", "gate_activations", "preactivations")  # the methods that define a cell's numbers (see runs_as)


class Cell(nn.Module, abc.ABC):
    """Base class of every recurrent cell.

    Subclass it, create parameters in ``__init__`` and write :meth:`step`; the cell
    then runs on the reference engine inside :class:`rnnkit.Recurrent` (stacked,
    bidirectional, with lengths and ``PackedSequence``). Override :meth:`init_state`
    when the state is not a single ``(B, hidden_size)`` tensor.

    Args:
        input_size: I, features of ``x_t``.
        hidden_size: H, size of the recurrent state.
        output_size: size of ``y_t``; defaults to ``hidden_size``.

    When a layer holds a cell, the layer adopts the cell's parameters under torch.nn's
    names (``weight_hh`` becomes ``weight_hh_l0``, ``weight_hh_l1_reverse``, ...), so
    the layer's ``state_dict`` matches torch.nn; the cell keeps reading them through
    its own names (``cell.weight_hh``, ``cell.named_parameters()``,
    ``cell.state_dict()``, ``cell.load_state_dict(...)``). The tensors then live on the
    layer: convert them there (``layer.double()``, ``layer.to(device)``); the same call
    on the cell raises, since it would leave the layer's cells in different dtypes.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.output_size = self.hidden_size if output_size is None else check_size(owner, "output_size", output_size)

    def check_fits(self, numel: int, factory: dict) -> None:
        """TooLarge (a ValueError and a MemoryError) before allocating ``numel`` parameters that would
        not fit in the memory free on ``factory["device"]``; the message gives the bytes."""
        nbytes = numel * element_bytes(factory.get("dtype"))
        check_memory(type(self).__name__, f"input_size={self.input_size}, hidden_size={self.hidden_size}: "
                     f"its {numel} weights", nbytes, factory.get("device"))

    @abc.abstractmethod
    def step(self, x_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One time step: ``x_t`` (B, I) and the previous state -> (y_t (B, output_size), new state)."""

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        """The zero state for ``batch`` sequences: ``(B, hidden_size)`` unless overridden."""
        return torch.zeros(batch, self.hidden_size, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """torch.nn's default: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)); layer-norm gains 1, shifts 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, param in self.named_parameters():
            if name.startswith("ln_weight"):
                nn.init.ones_(param)
            elif name.startswith("ln_bias"):
                nn.init.zeros_(param)
            else:
                nn.init.uniform_(param, -bound, bound)

    def forward(self, x_t: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Validate and run one step; ``x_t`` may be ``(B, I)`` or unbatched ``(I,)``."""
        owner = type(self).__name__
        check_tensor(owner, "input", x_t)
        if x_t.dim() not in (1, 2):
            raise ValueError(f"{owner}: expected input with 1 or 2 dims ((I,) or (B, I)), got shape {tuple(x_t.shape)}")
        if x_t.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: expected input with {self.input_size} features, got {x_t.shape[-1]}")
        unbatched = x_t.dim() == 1
        if unbatched:
            x_t = x_t.unsqueeze(0)
            if state is not None:
                state = map_state(lambda s: s.unsqueeze(0), state)
        if state is None:
            state = self.init_state(x_t.shape[0], x_t.device, x_t.dtype)
        y, new_state = self.step(x_t, state)
        if unbatched:
            return y.squeeze(0), map_state(lambda s: s.squeeze(0), new_state)
        return y, new_state

    # -- adoption by a layer -------------------------------------------------------
    def _bind(self, owner: nn.Module, suffix: str) -> None:
        """Move this cell's parameters, buffers and submodules onto ``owner`` as ``name + suffix``."""
        aliases = {}
        for name, param in list(self._parameters.items()):
            owner.register_parameter(name + suffix, param)
            aliases[name] = name + suffix
            del self._parameters[name]
        for name, buf in list(self._buffers.items()):
            owner.register_buffer(name + suffix, buf, persistent=name not in self._non_persistent_buffers_set)
            aliases[name] = name + suffix
            del self._buffers[name]
        for name, module in list(self._modules.items()):
            owner.add_module(name + suffix, module)
            aliases[name] = name + suffix
            del self._modules[name]
        # Plain attributes, not submodules: the owner must not see the cell as a child.
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_aliases", aliases)

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """The cell's parameters under the cell's own names, also after a layer adopted them."""
        aliases = self.__dict__.get("_aliases")
        if aliases is None:
            yield from super().named_parameters(prefix, recurse, remove_duplicate)
            return
        dot = prefix + "." if prefix else ""
        for name in aliases:
            value = getattr(self, name)
            if isinstance(value, nn.Parameter):
                yield dot + name, value
            elif isinstance(value, nn.Module) and recurse:
                yield from value.named_parameters(dot + name, True, remove_duplicate)

    @contextmanager
    def substituted(self, tensors: dict):
        """Within the block the cell's math reads ``tensors`` (own name -> tensor) in place of those
        parameters, so it can be recomputed, differentiably, from other tensors (an engine's double
        backward does this); the parameters are put back after, also on error. Not thread-safe."""
        aliases = self.__dict__.get("_aliases")
        holder = self.__dict__["_owner"] if aliases is not None else self
        names = {name: aliases[name] if aliases is not None else name for name in tensors}
        kept = {held: holder._parameters[held] for held in names.values()}
        try:
            for name, held in names.items():
                holder._parameters[held] = tensors[name]
            yield self
        finally:
            holder._parameters.update(kept)

    def __getattr__(self, name: str):
        aliases = self.__dict__.get("_aliases")
        if aliases is not None and name in aliases:
            return getattr(self.__dict__["_owner"], aliases[name])
        return super().__getattr__(name)

    def __setattr__(self, name: str, value) -> None:
        aliases = self.__dict__.get("_aliases")
        if aliases is not None and name in aliases:
            setattr(self.__dict__["_owner"], aliases[name], value)
        else:
            super().__setattr__(name, value)

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """The cell's parameters and persistent buffers under its own names, also after a layer adopted them."""
        aliases = self.__dict__.get("_aliases")
        if aliases is None or args:
            return super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        owner = self.__dict__["_owner"]
        out = OrderedDict() if destination is None else destination
        for name, alias in aliases.items():
            value = getattr(self, name)
            if isinstance(value, nn.Module):
                value.state_dict(destination=out, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
            elif value is not None and alias not in owner._non_persistent_buffers_set:
                out[prefix + name] = value if keep_vars else value.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load what :meth:`state_dict` gave; after adoption the values are copied into the layer's tensors."""
        if self.__dict__.get("_aliases") is None:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        owner = type(self).__name__
        if assign:
            raise ValueError(f"{owner}: expected assign=False for a cell whose layer adopted its tensors "
                             "(load into the layer to replace them), got assign=True")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(f"Error(s) in loading state_dict for {owner}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        with torch.no_grad():
            for key, target in own.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                if tuple(value.shape) != tuple(target.shape):
                    raise RuntimeError(f"Error(s) in loading state_dict for {owner}: expected {key} of shape "
                                       f"{tuple(target.shape)}, got {tuple(value.shape)}")
                target.copy_(value)
        return _IncompatibleKeys(missing, unexpected)

    def _apply(self, fn, recurse: bool = True):
        aliases = self.__dict__.get("_aliases")
        if aliases is None:
            return super()._apply(fn, recurse)
        if not aliases:
            return self  # nothing was adopted, nothing to convert
        owner = type(self.__dict__["_owner"]).__name__
        raise RuntimeError(f"{type(self).__name__}: this cell's tensors belong to the {owner} layer that adopted "
                           f"them (as {', '.join(list(aliases.values())[:2])}, ...); convert the "
                           f"layer instead (layer.double(), layer.to(device)), which converts every cell alike")


def runs_as(cell: Cell, base: type) -> bool:
    """Whether ``cell`` is a ``base`` whose numbers are ``base``'s own: no subclass changed its :data:`MATH`.

    Engines with hand-written or fused math for a built-in cell serve exactly those cells.
    """
    return isinstance(cell, base) and all(getattr(type(cell), m, None) is getattr(base, m, None) for m in MATH)
