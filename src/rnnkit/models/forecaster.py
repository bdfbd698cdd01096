r"""A recurrent forecaster (direct or autoregressive), its error measures and two naive baselines.

**Direct** (``mode="direct"``): the read-out at step t gives all K future values at once,

.. math::  h_t = \mathrm{RNN}(x_t, h_{t-1}),\qquad (\hat x_{t+1}, \ldots, \hat x_{t+K}) = W_o h_t + b_o .

**Autoregressive** (``mode="autoregressive"``): the read-out predicts one step,
:math:`\hat x_{t+1} = W_o h_t + b_o`, trained on every step; a K-step forecast feeds
each prediction back as the next input.

Errors over forecasts :math:`\hat y` of truths :math:`y` (all origins and steps):
:math:`\mathrm{MAE} = \mathrm{mean}|\hat y - y|`, :math:`\mathrm{RMSE} = \sqrt{\mathrm{mean}(\hat y - y)^2}`,
:math:`\mathrm{NRMSE} = \mathrm{RMSE} / \mathrm{std}(y)` (1.0 = as good as predicting the truths' mean).
Baselines from origin o (first forecast index): **naive** :math:`\hat y_{o+k} = y_{o-1}`;
**seasonal naive** with period m: :math:`\hat y_{o+k} = y_{o+k-m\lceil (k+1)/m \rceil}`,
the latest observed value one or more whole seasons earlier.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnkit._checks import check_choice, check_size
from rnnkit.models.sequence import SequenceModel

MODES = ("direct", "autoregressive")


class Forecaster(nn.Module):
    """Recurrent stack and a linear read-out of K future values (direct) or the next one (autoregressive).

    Args:
        input_size: I (1 for a univariate series). hidden_size: H. horizon: K.
        num_layers: L. cell: ``"rnn"`` (tanh), ``"relu"``, ``"lstm"``, ``"gru"``, ``"mingru"`` or ``"minlstm"``.
        mode: one of ``MODES``.

    Shapes: ``forward`` x (T, B, I) -> (T, B, K) direct or (T, B, 1) autoregressive;
    ``forecast`` x (T, B, I) -> (B, K), the K values after the window.

    Example::

        >>> f = Forecaster(1, 16, horizon=3)
        >>> f.forecast(torch.randn(24, 5, 1)).shape
        torch.Size([5, 3])
    """

    def __init__(self, input_size: int, hidden_size: int, horizon: int, num_layers: int = 1, *,
                 cell: str = "lstm", mode: str = "direct", engine: str = "auto", init=None) -> None:
        super().__init__()
        self.horizon = check_size("Forecaster", "horizon", horizon)
        self.mode = check_choice("Forecaster", "mode", mode, MODES)
        if mode == "autoregressive" and input_size != 1:
            raise ValueError(f"Forecaster: autoregressive mode feeds forecasts back, so it needs input_size 1, "
                             f"got {input_size}")
        outputs = horizon if mode == "direct" else 1
        self.net = SequenceModel(cell, input_size, hidden_size, outputs, num_layers, engine=engine, init=init)

    def forward(self, x: torch.Tensor, state=None, resets: torch.Tensor | None = None):
        """x (T, B, I) -> (outputs (T, B, K or 1), state)."""
        return self.net(x, state, resets)

    @torch.no_grad()
    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        """The K values after each window x (T, B, I), ``(B, K)``."""
        out, state = self.net(x)  # (T, B, K or 1)
        if self.mode == "direct":
            return out[-1]  # (B, K)
        steps = [out[-1]]  # each (B, 1)
        for _ in range(self.horizon - 1):
            out, state = self.net(steps[-1][None], state)  # (1, B, 1)
            steps.append(out[-1])
        return torch.cat(steps, dim=1)  # (B, K)


def errors(forecast: np.ndarray, truth: np.ndarray) -> dict:
    """MAE, RMSE and NRMSE (RMSE / std of the truths) over all entries of equal-shaped arrays."""
    diff = np.asarray(forecast, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    rmse = float(np.sqrt(np.mean(diff ** 2)))
    spread = float(np.std(truth))
    return {"mae": float(np.mean(np.abs(diff))), "rmse": rmse, "nrmse": rmse / spread if spread > 0 else float("nan")}


def naive(series: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Last-value forecasts ``(n, K)``: every step repeats the value just before the origin."""
    return np.repeat(series[origins - 1][:, None], horizon, axis=1)


def seasonal_naive(series: np.ndarray, origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """Seasonal-naive forecasts ``(n, K)``: the latest observed value a whole number of periods earlier."""
    check_size("seasonal_naive", "period", period)
    k = np.arange(horizon)
    back = period * ((k // period) + 1)  # (K,) whole seasons back, so the source is before the origin
    idx = origins[:, None] + k[None, :] - back[None, :]  # (n, K)
    if idx.min() < 0:
        raise ValueError(f"seasonal_naive: the first origin {origins.min()} is less than one period ({period}) in")
    return series[idx]


def truths(series: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The true values ``(n, K)`` after each origin."""
    return series[origins[:, None] + np.arange(horizon)[None, :]]
