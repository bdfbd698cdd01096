r"""Chaotic benchmark series: Mackey-Glass and Lorenz.

Both return float64 tensors, time-major: ``(T,)`` / ``(T, 3)`` for one series,
``(T, B)`` / ``(T, B, 3)`` for ``batch=B`` independent series (each from its own
random initial condition drawn from ``seed``). Nothing is downloaded: the series are
integrated here, so the same arguments always give the same numbers.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from rnnkit._checks import check_size


def _check_positive(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: expected {name} to be a positive number, got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: expected {name} > 0, got {value}")
    return float(value)


def _batch(owner: str, batch) -> int:
    return 1 if batch is None else check_size(owner, "batch", batch)


def _finish(values: np.ndarray, batch) -> torch.Tensor:
    """(T, B, ...) array -> tensor, dropping B when the caller asked for one series."""
    out = torch.from_numpy(np.ascontiguousarray(values))
    return out[:, 0] if batch is None else out


def mackey_glass(n: int, tau: float = 17.0, *, batch: int | None = None, discard: int = 1000,
                 dt: float = 0.1, sample_every: float = 1.0, beta: float = 0.2, gamma: float = 0.1,
                 power: float = 10.0, x0: float = 1.2, seed: int = 0) -> torch.Tensor:
    r"""The Mackey-Glass delay differential equation, Euler-integrated and subsampled.

    .. math::
        \frac{dx}{dt} = \beta \frac{x(t-\tau)}{1 + x(t-\tau)^{n}} - \gamma x(t)

    with :math:`\beta=0.2, \gamma=0.1, n=10`: chaotic for :math:`\tau \ge 17`.
    Integration: Euler with step ``dt`` (0.1), the delayed value read from a history
    buffer of ``round(tau / dt)`` steps; one sample every ``sample_every`` time units
    (1.0). The history starts at ``x0`` plus uniform noise in [-0.1, 0.1] (from
    ``seed``, one draw per series); the first ``discard`` samples (transient) are dropped.

    Args:
        n: T, samples returned.
        tau: the delay :math:`\tau` (17 is the classic mildly chaotic case, 30 is harder).
        batch: B independent series, or None for one series.

    Returns:
        ``(T,)`` float64, or ``(T, B)`` with ``batch``.

    Example::

        >>> x = mackey_glass(3000, tau=17)   # values roughly in [0.4, 1.4]
    """
    owner = "mackey_glass"
    n = check_size(owner, "n", n)
    tau, dt = _check_positive(owner, "tau", tau), _check_positive(owner, "dt", dt)
    sample_every = _check_positive(owner, "sample_every", sample_every)
    discard = check_size(owner, "discard", discard, minimum=0)
    B = _batch(owner, batch)
    delay = max(1, int(round(tau / dt)))  # history length in Euler steps
    stride = int(round(sample_every / dt))  # Euler steps per sample
    if stride < 1 or abs(stride * dt - sample_every) > 1e-9 * max(1.0, sample_every):
        raise ValueError(f"{owner}: expected sample_every to be a multiple of dt={dt}, got {sample_every}")
    rng = np.random.default_rng(seed)
    history = np.empty((delay + 1, B))  # ring buffer of the last delay+1 values, (delay+1, B)
    history[:] = x0 + rng.uniform(-0.1, 0.1, size=B)
    x = history[0].copy()  # (B,)
    head = 0  # index of the current value in the ring buffer
    out = np.empty((n + discard, B))
    for i in range((n + discard) * stride):
        lagged = history[(head + 1) % (delay + 1)]  # x(t - tau), (B,)
        x = x + dt * (beta * lagged / (1.0 + lagged ** power) - gamma * x)
        head = (head + 1) % (delay + 1)
        history[head] = x
        if (i + 1) % stride == 0:
            out[(i + 1) // stride - 1] = x
    return _finish(out[discard:], batch)


def lorenz(n: int, *, batch: int | None = None, dt: float = 0.01, discard: int = 1000,
           sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0, seed: int = 0) -> torch.Tensor:
    r"""The Lorenz system, integrated with fourth-order Runge-Kutta at step ``dt``.

    .. math::
        \dot x = \sigma (y - x),\quad \dot y = x(\rho - z) - y,\quad \dot z = xy - \beta z

    One sample per step; starts at (1, 1, 1) plus uniform noise in [-1, 1] per series
    (from ``seed``) and drops the first ``discard`` samples.

    Returns:
        ``(T, 3)`` float64 (columns x, y, z), or ``(T, B, 3)`` with ``batch``.
    """
    owner = "lorenz"
    n = check_size(owner, "n", n)
    dt = _check_positive(owner, "dt", dt)
    discard = check_size(owner, "discard", discard, minimum=0)
    B = _batch(owner, batch)
    rng = np.random.default_rng(seed)
    s = 1.0 + rng.uniform(-1.0, 1.0, size=(B, 3))  # (B, 3)

    def f(v: np.ndarray) -> np.ndarray:
        x, y, z = v[:, 0], v[:, 1], v[:, 2]
        return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], axis=1)  # (B, 3)

    out = np.empty((n + discard, B, 3))
    for i in range(n + discard):
        k1 = f(s)
        k2 = f(s + 0.5 * dt * k1)
        k3 = f(s + 0.5 * dt * k2)
        k4 = f(s + dt * k3)
        s = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[i] = s
    return _finish(out[discard:], batch)
