r"""Spectra of recurrent weights, and the power argument made concrete.

For the linear recurrence :math:`h_t = W^\top h_{t-1}` the state after t steps is
:math:`h_t = (W^\top)^t h_0`. Written in W's eigenbasis, the component along the
eigenvalue of largest modulus :math:`|\lambda_{max}| = \rho(W)` (the spectral radius)
dominates, so

.. math::  \|h_t\| \approx C \, \rho^t, \qquad \lim_{t\to\infty} \|h_t\|^{1/t} = \rho

and the same product of Jacobians carries gradients backwards: :math:`\rho < 1`
vanishes, :math:`\rho > 1` explodes. With a nonlinearity :math:`h_t = \phi(W h_{t-1} + \dots)`
each step's Jacobian is :math:`\mathrm{diag}(\phi'(a_t)) W`, and :math:`|\tanh'| \le 1`
only shrinks it further.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnkit.cells.linear import LinearCell

from rnnkit._checks import check_size, check_tensor

GATE_NAMES = {1: ("h",), 3: ("r", "z", "n"), 4: ("i", "f", "g", "o")}


def _check_square(owner: str, matrix) -> torch.Tensor:
    check_tensor(owner, "matrix", matrix)
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{owner}: expected a square matrix (H, H), got shape {tuple(matrix.shape)}")
    return matrix.detach().double().cpu()


def eigenvalues(matrix: torch.Tensor) -> torch.Tensor:
    """(H,) complex128 eigenvalues of a square (H, H) matrix, largest modulus first."""
    ev = torch.linalg.eigvals(_check_square("eigenvalues", matrix))
    return ev[ev.abs().argsort(descending=True)]


def recurrent_blocks(cell) -> dict[str, torch.Tensor]:
    """The square (H, H) blocks of ``cell.weight_hh``, one per gate, by gate name (i, f, g, o / r, z, n / h)."""
    weight = getattr(cell, "weight_hh", None)
    if weight is None:
        raise ValueError(f"recurrent_blocks: {type(cell).__name__} has no weight_hh")
    gates = getattr(cell, "gates", 1)
    names = GATE_NAMES.get(gates, tuple(f"gate{k}" for k in range(gates)))
    blocks = weight.detach().chunk(gates, dim=0)  # G x (H, H or P)
    return {name: b for name, b in zip(names, blocks) if b.shape[0] == b.shape[1]}


@dataclass(frozen=True)
class Spectrum:
    """The eigenvalues of one recurrent block and its spectral radius."""

    name: str  # which block: "l0.h", "l1_reverse.f", ...
    eigenvalues: torch.Tensor  # (H,) complex128, largest modulus first
    radius: float  # spectral radius rho = max |lambda|
    norm: float  # largest singular value ||W||_2 (>= rho)


def spectrum(matrix: torch.Tensor, name: str = "W") -> Spectrum:
    """Eigenvalues, spectral radius and spectral norm of a square matrix."""
    W = _check_square("spectrum", matrix)
    ev = eigenvalues(W)
    return Spectrum(name, ev, float(ev.abs().max()), float(torch.linalg.matrix_norm(W, 2)))


def layer_spectra(layer) -> list[Spectrum]:
    """One :class:`Spectrum` per square recurrent gate block of every cell of an rnnkit layer.

    Cells linear in h (minGRU, minLSTM) have no recurrent matrix: their step Jacobian is
    ``diag(a_t)``, measured by the Jacobian products instead; they contribute no spectrum.
    """
    D = layer.num_directions
    out = []
    for index, cell in enumerate(layer.cells):
        if getattr(cell, "weight_hh", None) is None and isinstance(cell, LinearCell):
            continue
        tag = f"l{index // D}" + ("_reverse" if index % D else "")
        for gate, block in recurrent_blocks(cell).items():
            out.append(spectrum(block, f"{tag}.{gate}"))
    return out


@dataclass(frozen=True)
class PowerRun:
    r"""The linear recurrence :math:`h_t = W^\top h_{t-1}` beside :math:`\rho^t`."""

    norms: torch.Tensor  # (T+1,) ||h_t|| for t = 0..T (float64)
    radius: float  # rho, the spectral radius of W
    rate: float  # measured growth factor per step: exp(slope of log ||h_t|| over the second half)

    def predicted(self) -> torch.Tensor:
        r"""(T+1,) :math:`\|h_0\| \rho^t`."""
        t = torch.arange(self.norms.shape[0], dtype=torch.float64)
        return self.norms[0] * self.radius ** t


def rate_from_logs(logs: torch.Tensor) -> float:
    """exp of the least-squares slope of ``logs`` (K,) against their index: the factor per step."""
    y = logs.double()
    t = torch.arange(y.shape[0], dtype=torch.float64)
    tc = t - t.mean()
    return math.exp(float((tc * (y - y.mean())).sum() / (tc ** 2).sum()))


def growth_rate(norms: torch.Tensor, start: int = 0) -> float:
    r"""exp of the least-squares slope of :math:`\log \|h_t\|` against t, for t >= ``start``."""
    return rate_from_logs(torch.log(norms[start:].double()))


def power_iteration(matrix: torch.Tensor, steps: int = 200, h0: torch.Tensor | None = None,
                    seed: int = 0) -> PowerRun:
    r"""Iterate :math:`h_t = W^\top h_{t-1}` for ``steps`` steps from ``h0`` (default: a seeded
    standard normal vector) and measure the growth rate per step over the second half."""
    W = _check_square("power_iteration", matrix)
    check_size("power_iteration", "steps", steps, minimum=4)
    if h0 is None:
        h0 = torch.randn(W.shape[0], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    h = h0.detach().double().cpu()
    norms = [h.norm()]
    for _ in range(steps):
        h = W.T @ h  # (H,)
        norms.append(h.norm())
    norms = torch.stack(norms)  # (T+1,)
    return PowerRun(norms, float(eigenvalues(W).abs().max()), growth_rate(norms, steps // 2))
