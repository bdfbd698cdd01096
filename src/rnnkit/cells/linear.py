r"""Cells whose recurrence is linear in the state: h_t = a_t ⊙ h_{t-1} + b_t.

The coefficients ``a_t`` and ``b_t`` depend on ``x_t`` alone, so a whole sequence's
coefficients come from one large product over all T steps, and the recurrence itself
is a first-order linear scan that runs in parallel over time
(:mod:`rnnkit.kernels.scan`). Subclass :class:`LinearCell` and write
:meth:`~LinearCell.coefficients`; ``step`` follows from it.

``g`` is the activation of Feng et al. 2024 ("Were RNNs All We Needed?"), which keeps
the candidate state positive so the scan can run in log space:
``g(x) = x + 1/2`` for ``x >= 0`` and ``sigmoid(x)`` below.
"""
from __future__ import annotations

import abc

import torch
import torch.nn.functional as F

from rnnkit.cells.base import Cell


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + e^x)``. torch's default returns x itself above 20, off by e^-20 ~ 2e-9, which float64
    notices; the threshold here is 50 (off by e^-50 ~ 2e-22), and e^50 still fits float32."""
    return F.softplus(x, threshold=50.0)


def g(x: torch.Tensor) -> torch.Tensor:
    """Feng et al.'s positive activation: ``x + 0.5`` where ``x >= 0``, ``sigmoid(x)`` elsewhere (continuous at 0)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """``log(g(x))`` without forming ``g``: ``log(relu(x) + 0.5)`` where ``x >= 0``, ``-softplus(-x)`` elsewhere."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -softplus(-x))


class LinearCell(Cell):
    r"""Base of cells with ``h_t = a_t ⊙ h_{t-1} + b_t`` and ``(a_t, b_t)`` computed from ``x_t`` alone.

    Subclass it and write :meth:`coefficients` for inputs of any leading shape; the
    ``scan`` engine then runs whole sequences in parallel over time. A subclass that
    overrides ``step`` as well runs on the reference engine only (the scan could not
    know what the new step computes).

    Class attributes:
        positive_b: whether ``b_t > 0`` always holds, which the log-space scan needs
            (then :meth:`log_coefficients` gives ``(log a_t, log b_t)``).
    """

    positive_b = False

    @abc.abstractmethod
    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (..., I) -> ``(a, b)``, each (..., H), for every position at once."""

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log a, log b)`` for the log-space scan; only meaningful when ``positive_b``.

        The default takes logs of :meth:`coefficients`; the built-in cells compute them
        from their pre-activations directly, as the paper does, which stays finite where
        ``a`` rounds to 0.
        """
        a, b = self.coefficients(x)
        return torch.log(a), torch.log(b)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = self.coefficients(x_t)  # (B, H) each
        h_new = torch.addcmul(b, a, h)
        return h_new, h_new
