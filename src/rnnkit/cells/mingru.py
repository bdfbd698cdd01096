r"""minGRU (Feng et al. 2024): a GRU whose gate and candidate read only x_t, linear in h."""
from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit._checks import check_bool, check_choice
from rnnkit.cells.linear import LinearCell, g, log_g, softplus

ACTIVATIONS = ("g", "identity")  # the candidate state's activation: the paper's g(.) (log-space ready), or none


class MinCell(LinearCell):
    """What minGRU and minLSTM share: one input projection ``weight_ih`` (gates*H, I), ``bias_ih``, the
    candidate's activation, and torch.nn.Linear's initialisation. Subclasses set ``gates`` and the math."""

    gates = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, activation: str = "g",
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = check_bool(type(self).__name__, "bias", bias)
        self.activation = check_choice(type(self).__name__, "activation", activation, ACTIVATIONS)
        self.positive_b = self.activation == "g"
        factory = {"device": device, "dtype": dtype}
        self.check_fits(self.gates * self.hidden_size * (self.input_size + 1), factory)
        self.weight_ih = nn.Parameter(torch.empty(self.gates * self.hidden_size, self.input_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(self.gates * self.hidden_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.Linear's default for an input projection: U(-1/sqrt(I), 1/sqrt(I))."""
        bound = 1.0 / math.sqrt(self.input_size)
        for _, param in self.named_parameters():
            nn.init.uniform_(param, -bound, bound)

    def preactivations(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """``W_ih x + b_ih`` (..., gates*H); ``h`` is accepted for the cell interface and unused."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.coefficients_of(self.preactivations(x))

    @abc.abstractmethod
    def coefficients_of(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)``, each (..., H), from the pre-activations ``pre`` (..., gates*H)."""

    def candidate(self, p: torch.Tensor) -> torch.Tensor:
        """The candidate state from its pre-activation: ``g(p)``, or ``p`` with ``activation="identity"``."""
        return g(p) if self.positive_b else p

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
        return s if self.activation == "g" else s + f", activation={self.activation!r}"


class MinGRUCell(MinCell):
    r"""Minimal GRU, the log-space-ready form of Feng et al. 2024, "Were RNNs All We Needed?".

    .. math::
        \begin{aligned}
        z_t &= \sigma(W_{iz} x_t + b_{iz}), \qquad \tilde h_t = g(W_{ih} x_t + b_{ih}) \\
        h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t, \qquad y_t = h_t
        \end{aligned}

    so ``a_t = 1 - z_t`` and ``b_t = z_t ⊙ h̃_t`` (see :class:`~rnnkit.cells.linear.LinearCell`).
    ``activation="identity"`` drops ``g`` (the paper's plain form): ``b_t`` may then be
    negative and the log-space scan does not apply (the chunked and sequential ones do).

    Args:
        input_size: I. hidden_size: H. bias: add ``bias_ih``.
        activation: ``"g"`` (default) or ``"identity"`` for the candidate state.

    Shapes: ``x_t`` (B, I), state ``h`` (B, H), ``y_t`` (B, H).

    Attributes:
        weight_ih (2H, I), bias_ih (2H,): rows z then h; initialised from U(-1/sqrt(I), 1/sqrt(I))
        (torch.nn.Linear's default: only the input feeds these products). No ``weight_hh``:
        the recurrence is element-wise.

    Example::

        >>> cell = MinGRUCell(3, 5)
        >>> y, h = cell(torch.randn(2, 3))
    """

    gates = 2

    def gate_activations(self, x: torch.Tensor, h: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The update gate ``z`` and the candidate state ``h_tilde``, each (..., H)."""
        k, p = self.preactivations(x).chunk(2, dim=-1)
        return {"z": torch.sigmoid(k), "h_tilde": self.candidate(p)}

    def coefficients_of(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` from the pre-activations ``pre`` (..., 2H)."""
        k, p = pre.chunk(2, dim=-1)  # (..., H) each
        return torch.sigmoid(-k), torch.sigmoid(k) * self.candidate(p)

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log(1 - z) = -softplus(k)``, ``log(z h̃) = -softplus(-k) + log g(p)``, finite for every k."""
        k, p = self.preactivations(x).chunk(2, dim=-1)
        return -softplus(k), -softplus(-k) + log_g(p)
