r"""minLSTM (Feng et al. 2024): an LSTM whose gates read only x_t, with normalised gates, linear in h."""
from __future__ import annotations

import torch

from rnnkit.cells.linear import log_g, softplus
from rnnkit.cells.mingru import MinCell


class MinLSTMCell(MinCell):
    r"""Minimal LSTM, the log-space-ready, length-independent form of Feng et al. 2024.

    .. math::
        \begin{aligned}
        f_t &= \sigma(W_{if} x_t + b_{if}), \quad i_t = \sigma(W_{ii} x_t + b_{ii}), \quad
        \tilde h_t = g(W_{ih} x_t + b_{ih}) \\
        f'_t &= \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \qquad
        h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t, \qquad y_t = h_t
        \end{aligned}

    No cell state and no output gate: ``a_t = f'_t``, ``b_t = i'_t ⊙ h̃_t``. With
    ``d = log i_t - log f_t = softplus(-k_f) - softplus(-k_i)``: ``f'_t = sigmoid(-d)``,
    ``i'_t = sigmoid(d)``, which is how both the step and the log-space form compute them.

    Args:
        input_size: I. hidden_size: H. bias: add ``bias_ih``.
        activation: ``"g"`` (default) or ``"identity"`` for the candidate state.

    Attributes:
        weight_ih (3H, I), bias_ih (3H,): rows f, i, h; U(-1/sqrt(I), 1/sqrt(I)).

    Example::

        >>> cell = MinLSTMCell(3, 5)
        >>> y, h = cell(torch.randn(2, 3))
    """

    gates = 3

    def _split(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-activations (..., 3H) -> ``d = log(i/f)`` and the candidate pre-activation ``p``, each (..., H)."""
        k_f, k_i, p = pre.chunk(3, dim=-1)  # (..., H) each
        return softplus(-k_f) - softplus(-k_i), p

    def gate_activations(self, x: torch.Tensor, h: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The raw gates ``f``, ``i``, the normalised ``f'`` (``f_norm``) and the candidate ``h_tilde``."""
        k_f, k_i, p = self.preactivations(x).chunk(3, dim=-1)
        d = softplus(-k_f) - softplus(-k_i)
        return {"f": torch.sigmoid(k_f), "i": torch.sigmoid(k_i), "f_norm": torch.sigmoid(-d),
                "h_tilde": self.candidate(p)}

    def coefficients_of(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` from the pre-activations ``pre`` (..., 3H)."""
        d, p = self._split(pre)
        return torch.sigmoid(-d), torch.sigmoid(d) * self.candidate(p)

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d, p = self._split(self.preactivations(x))
        return -softplus(d), -softplus(-d) + log_g(p)
