"""Weight initialisations that fight vanishing and exploding gradients.

Each scheme is a frozen dataclass called on a cell (``scheme(cell)``) and changes its
weights in place. Layers take a scheme or its name: ``rnnkit.LSTM(..., init="chrono")``
or ``init=Chrono(max_len=500)``. Gated cells are treated gate block by gate block:
``weight_hh`` of an LSTM is four (H, H) blocks, each initialised on its own.

``spectral_radius=r`` (on layers, or :func:`spectral_radius_`) then rescales every
square recurrent block so its largest eigenvalue modulus is ``r``: the recurrence
``h_t = W h_{t-1}`` grows like ``r**t`` (explodes for r > 1, vanishes for r < 1).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.cells.mingru import MinCell

INIT_NAMES = ("default", "orthogonal", "identity", "xavier", "chrono")


def _blocks(weight: torch.Tensor, gates: int) -> list[torch.Tensor]:
    """Row blocks of a (G*H, N) weight, one per gate: G views of (H, N)."""
    return list(weight.detach().chunk(gates, dim=0))


def _gates(cell) -> int:
    return getattr(cell, "gates", 1)


def _require(cell, *names: str) -> None:
    for name in names:
        if getattr(cell, name, None) is None:
            raise ValueError(f"init: {type(cell).__name__} has no {name}; this initialisation needs one")


def _zero_biases(cell) -> None:
    for name in ("bias_ih", "bias_hh"):
        bias = getattr(cell, name, None)
        if bias is not None:
            nn.init.zeros_(bias)


@dataclass(frozen=True)
class Default:
    """torch.nn's default: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""

    def __call__(self, cell) -> None:
        cell.reset_parameters()


@dataclass(frozen=True)
class Orthogonal:
    """Orthogonal recurrent blocks (Saxe et al. 2014), Glorot-uniform input blocks, zero biases."""

    gain: float = 1.0  # multiplies each orthogonal block of weight_hh

    def __call__(self, cell) -> None:
        _require(cell, "weight_ih", "weight_hh")
        for block in _blocks(cell.weight_hh, _gates(cell)):
            nn.init.orthogonal_(block, gain=self.gain)
        for block in _blocks(cell.weight_ih, _gates(cell)):
            nn.init.xavier_uniform_(block)
        if getattr(cell, "weight_hr", None) is not None:
            nn.init.orthogonal_(cell.weight_hr.detach())
        _zero_biases(cell)


@dataclass(frozen=True)
class Identity:
    """IRNN (Le, Jaitly & Hinton 2015): W_hh = scale * I, zero biases, W_ih ~ N(0, input_std^2).

    Meant for ReLU Elman RNNs; on gated cells each recurrent gate block becomes scale * I.
    """

    scale: float = 1.0  # the diagonal of each recurrent block
    input_std: float = 0.001  # standard deviation of the input weights

    def __call__(self, cell) -> None:
        _require(cell, "weight_ih", "weight_hh")
        for block in _blocks(cell.weight_hh, _gates(cell)):
            if block.shape[0] != block.shape[1]:
                raise ValueError(f"init: identity needs square recurrent blocks, got {tuple(block.shape)} "
                                 f"in {type(cell).__name__} (proj_size?)")
            block.copy_(torch.eye(block.shape[0], dtype=block.dtype, device=block.device) * self.scale)
        nn.init.normal_(cell.weight_ih, 0.0, self.input_std)
        _zero_biases(cell)


@dataclass(frozen=True)
class Xavier:
    """Glorot-uniform (Glorot & Bengio 2010) on every weight gate block, zero biases."""

    def __call__(self, cell) -> None:
        _require(cell, "weight_ih", "weight_hh")
        for weight in (cell.weight_ih, cell.weight_hh):
            for block in _blocks(weight, _gates(cell)):
                nn.init.xavier_uniform_(block)
        if getattr(cell, "weight_hr", None) is not None:
            nn.init.xavier_uniform_(cell.weight_hr.detach())
        _zero_biases(cell)


@dataclass(frozen=True)
class Chrono:
    """Chrono initialisation of LSTM gate biases (Tallec & Ollivier 2018).

    ``b_f ~ log(U(1, max_len - 1))`` and ``b_i = -b_f``, so forget gates span memory
    times up to about ``max_len`` steps; the other biases are zero, weights untouched.
    The same for the min cells, whose gates read x_t only (see ``_min_cell``).
    """

    max_len: int = 100  # longest dependency, in time steps, the gates should span

    def __call__(self, cell) -> None:
        if self.max_len < 3:
            raise ValueError(f"init: chrono needs max_len >= 3, got {self.max_len}")
        if isinstance(cell, MinCell):
            self._min_cell(cell)
            return
        if _gates(cell) != 4:
            raise ValueError(f"init: chrono is for LSTM cells (gates i, f, g, o) and the min cells, "
                             f"got {type(cell).__name__}")
        _require(cell, "bias_ih", "bias_hh")
        H = cell.bias_hh.shape[0] // 4
        b_f = torch.log(torch.empty(H, dtype=cell.bias_hh.dtype, device=cell.bias_hh.device)
                        .uniform_(1.0, self.max_len - 1))
        with torch.no_grad():
            cell.bias_ih.zero_()
            cell.bias_hh.zero_()
            cell.bias_hh[H:2 * H] = b_f  # forget gate
            cell.bias_hh[:H] = -b_f  # input gate


    def _min_cell(self, cell) -> None:
        """minGRU: ``b_z = -log u``; minLSTM: ``b_f = log u``, ``b_i = -log u``; u ~ U(1, max_len - 1), so
        a_t = u / (1 + u) at zero input, a memory of 1 / (1 - a) = 1 + u steps; weights untouched."""
        _require(cell, "bias_ih")
        H = cell.hidden_size
        log_u = torch.log(torch.empty(H, dtype=cell.bias_ih.dtype, device=cell.bias_ih.device)
                          .uniform_(1.0, self.max_len - 1))
        with torch.no_grad():
            cell.bias_ih.zero_()
            if cell.gates == 3:  # minLSTM rows f, i, h
                cell.bias_ih[:H] = log_u
                cell.bias_ih[H:2 * H] = -log_u
            else:  # minGRU rows z, h
                cell.bias_ih[:H] = -log_u


SCHEMES = {"default": Default, "orthogonal": Orthogonal, "identity": Identity, "xavier": Xavier, "chrono": Chrono}


def resolve(owner: str, init):
    """A scheme from a name, a callable or None (keep the default)."""
    if init is None:
        return None
    if isinstance(init, str):
        if init not in SCHEMES:
            raise ValueError(f"{owner}: unknown init {init!r}; valid names are {', '.join(INIT_NAMES)} "
                             "(or pass a callable fn(cell))")
        return SCHEMES[init]()
    if callable(init):
        return init
    raise TypeError(f"{owner}: expected init to be a name ({', '.join(INIT_NAMES)}) or a callable, "
                    f"got {type(init).__name__}")


def check_radius(owner: str, radius) -> None:
    if radius is None:
        return
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        raise TypeError(f"{owner}: expected spectral_radius to be a positive number, got {type(radius).__name__}")
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"{owner}: expected spectral_radius > 0, got {radius}")


def spectral_radius(matrix: torch.Tensor) -> float:
    """Largest eigenvalue modulus of a square matrix."""
    return float(torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max())


def spectral_radius_(cell, radius: float) -> None:
    """Rescale each square recurrent gate block of ``cell.weight_hh`` to spectral radius ``radius``."""
    check_radius("spectral_radius_", radius)
    _require(cell, "weight_hh")
    for block in _blocks(cell.weight_hh, _gates(cell)):
        if block.shape[0] != block.shape[1]:
            raise ValueError(f"spectral_radius_: needs square recurrent blocks, got {tuple(block.shape)} "
                             f"in {type(cell).__name__} (proj_size?)")
        rho = spectral_radius(block)
        if rho == 0.0:
            raise ValueError("spectral_radius_: a recurrent block has spectral radius 0 and cannot be rescaled")
        block.mul_(radius / rho)


def initialize(cell, scheme=None, radius: float | None = None) -> None:
    """Apply ``scheme`` (a name or callable; None keeps the weights) then the spectral radius."""
    scheme = resolve("initialize", scheme) if isinstance(scheme, str) else scheme
    if scheme is not None:
        scheme(cell)
    if radius is not None:
        spectral_radius_(cell, radius)


__all__ = ["INIT_NAMES", "Default", "Orthogonal", "Identity", "Xavier", "Chrono", "initialize",
           "spectral_radius", "spectral_radius_"]
