r"""NARMA10, the nonlinear autoregressive moving-average benchmark (Atiya & Parlos 2000)."""
from __future__ import annotations

import numpy as np
import torch

from rnnkit._checks import check_size


def narma10(n: int, *, batch: int | None = None, discard: int = 200,
            seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Input ``u`` and target ``y`` of the tenth-order NARMA system.

    .. math::
        y_{t+1} = 0.3\, y_t + 0.05\, y_t \sum_{i=0}^{9} y_{t-i} + 1.5\, u_{t-9}\, u_t + 0.1,
        \qquad u_t \sim \mathcal{U}(0, 0.5)

    Starts from ``y = 0``, drops the first ``discard`` steps. The task is to predict
    ``y_t`` from ``u_0 .. u_t`` (``y[t]`` is aligned with ``u[t]``: it is the value
    produced after reading ``u[t]``), which needs about ten steps of memory.

    Returns:
        ``(u, y)``, each ``(T,)`` float64, or ``(T, B)`` with ``batch``.

    Example::

        >>> u, y = narma10(2000)
    """
    owner = "narma10"
    n = check_size(owner, "n", n)
    discard = check_size(owner, "discard", discard, minimum=0)
    B = 1 if batch is None else check_size(owner, "batch", batch)
    total = n + discard
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.0, 0.5, size=(total, B))  # (T, B)
    y = np.zeros((total + 1, B))  # y[t + 1] is produced by u[t]; (T + 1, B)
    for t in range(total):
        past = y[max(0, t - 9):t + 1].sum(axis=0)  # sum_{i=0}^{9} y_{t-i}, (B,)
        u_lag = u[t - 9] if t >= 9 else 0.0
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * past + 1.5 * u_lag * u[t] + 0.1
    u_out = torch.from_numpy(np.ascontiguousarray(u[discard:]))
    y_out = torch.from_numpy(np.ascontiguousarray(y[discard + 1:]))
    if batch is None:
        return u_out[:, 0], y_out[:, 0]
    return u_out, y_out
