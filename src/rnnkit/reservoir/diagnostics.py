r"""Reservoir diagnostics: spectral radius, the echo state property, memory capacity."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit import init as rinit
from rnnkit._checks import check_size, check_tensor
from rnnkit.reservoir.readouts import Ridge
from rnnkit.reservoir.reservoir import Reservoir


def _check_reservoir(owner: str, reservoir) -> Reservoir:
    if not isinstance(reservoir, Reservoir):
        raise TypeError(f"{owner}: expected a rnnkit.reservoir.Reservoir, got {type(reservoir).__name__}")
    return reservoir


def spectral_radius(reservoir_or_matrix) -> float:
    r"""Largest eigenvalue modulus :math:`\rho(W)` of a reservoir's ``W`` or of a square matrix."""
    if isinstance(reservoir_or_matrix, Reservoir):
        return reservoir_or_matrix.spectral_radius()
    check_tensor("spectral_radius", "matrix", reservoir_or_matrix)
    m = reservoir_or_matrix
    if m.dim() != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"spectral_radius: expected a square matrix, got shape {tuple(m.shape)}")
    return rinit.spectral_radius(m.to_dense() if m.layout != torch.strided else m)


@dataclass(frozen=True)
class EchoStateCheck:
    """Result of :func:`echo_state_check`."""

    converged: bool  # the two trajectories ended closer than tol
    distances: torch.Tensor  # (T,) RMS difference per unit between the two trajectories at each step
    tol: float  # the threshold used on the last distance


def echo_state_check(reservoir: Reservoir, inputs: torch.Tensor | None = None, *, steps: int = 1000,
                     init_scale: float = 1.0, tol: float = 1e-6, seed: int = 0) -> EchoStateCheck:
    r"""Test the echo state property empirically: do two different initial states forget?

    Runs the reservoir twice on the same input sequence, from two initial states drawn
    from U(-init_scale, init_scale), and records

    .. math:: d_t = \lVert x^{(1)}_t - x^{(2)}_t \rVert_2 / \sqrt N .

    With the echo state property the trajectories converge (:math:`d_T \to 0`) whatever
    the initial states. A large spectral radius driven by a large state and no input
    typically keeps them apart (self-sustained activity).

    Args:
        reservoir: the :class:`Reservoir` to test.
        inputs: (T, I + F) driving sequence; default zeros for ``steps`` steps (input-free).
        init_scale: half-width of the initial states' distribution.
        tol: converged when :math:`d_T <` ``tol``.
    """
    owner = "echo_state_check"
    _check_reservoir(owner, reservoir)
    ref = reservoir.weight_ih
    if inputs is None:
        inputs = torch.zeros(check_size(owner, "steps", steps), reservoir.input_size, dtype=ref.dtype,
                             device=ref.device)
    check_tensor(owner, "inputs", inputs)
    if inputs.dim() != 2 or inputs.shape[1] != reservoir.input_size:
        raise ValueError(f"{owner}: expected inputs of shape (T, {reservoir.input_size}), got {tuple(inputs.shape)}")
    if not init_scale > 0:
        raise ValueError(f"{owner}: expected init_scale > 0, got {init_scale}")
    gen = torch.Generator().manual_seed(seed)
    h0 = (torch.rand(2, reservoir.hidden_size, generator=gen, dtype=torch.float64) * 2 - 1) * init_scale  # (2, N)
    x = inputs.to(device=ref.device, dtype=ref.dtype).unsqueeze(1).expand(-1, 2, -1)  # same input twice, (T, 2, I + F)
    with torch.no_grad():
        states, _ = reservoir.run(x, h0.to(device=ref.device, dtype=ref.dtype))  # (T, 2, N)
    distances = (states[:, 0] - states[:, 1]).norm(dim=1).cpu() / reservoir.hidden_size ** 0.5  # (T,)
    return EchoStateCheck(converged=bool(distances[-1] < tol), distances=distances, tol=float(tol))


@dataclass(frozen=True)
class MemoryCapacity:
    """Result of :func:`memory_capacity`."""

    total: float  # MC = sum over delays of per_delay
    per_delay: torch.Tensor  # (K,) squared correlation of u(t - k) with its reconstruction, k = 1..K


def memory_capacity(reservoir: Reservoir, max_delay: int | None = None, *, train: int = 4000, test: int = 1000,
                    washout: int = 200, alpha: float = 1e-10, seed: int = 0) -> MemoryCapacity:
    r"""Short-term memory capacity (Jaeger 2001, "Short term memory in echo state networks").

    Drive the reservoir with i.i.d. :math:`u_t \sim \mathcal U(-0.5, 0.5)`; for each delay
    :math:`k = 1..K` train a linear readout (ridge, penalty ``alpha``) to output
    :math:`u_{t-k}` and measure on fresh test steps

    .. math::
        MC_k = \frac{\mathrm{cov}^2(u_{t-k}, y_k(t))}{\mathrm{var}(u_{t-k})\,\mathrm{var}(y_k(t))},
        \qquad MC = \sum_{k=1}^{K} MC_k \;\le\; N .

    Needs a reservoir with one input and no feedback. ``max_delay`` defaults to ``2 N``.
    """
    owner = "memory_capacity"
    _check_reservoir(owner, reservoir)
    if reservoir.input_size != 1:
        raise ValueError(f"{owner}: expected a reservoir with one input and no feedback, "
                         f"got input_size={reservoir.input_size}")
    N = reservoir.hidden_size
    K = 2 * N if max_delay is None else check_size(owner, "max_delay", max_delay)
    train, test = check_size(owner, "train", train), check_size(owner, "test", test)
    washout = check_size(owner, "washout", washout, minimum=0)
    if washout < K:
        washout = K  # every target u_{t-k} must exist
    ref = reservoir.weight_ih
    gen = torch.Generator().manual_seed(seed)
    T = washout + train + test
    u = torch.rand(T, generator=gen, dtype=torch.float64) - 0.5  # (T,)
    with torch.no_grad():
        states, _ = reservoir.run(u.to(device=ref.device, dtype=ref.dtype).view(T, 1, 1))
    X = states[:, 0].double().cpu()  # (T, N)
    delayed = torch.stack([u[washout - k:T - k] for k in range(1, K + 1)], dim=1)  # u_{t-k}, (T - washout, K)
    Xs = X[washout:]  # (T - washout, N)
    readout = Ridge(alpha).fit(Xs[:train], delayed[:train])
    y = readout(Xs[train:])  # (test, K)
    d = delayed[train:]  # (test, K)
    yc, dc = y - y.mean(0), d - d.mean(0)
    mc = (yc * dc).sum(0).pow(2) / (yc.pow(2).sum(0) * dc.pow(2).sum(0))  # squared correlation per delay, (K,)
    return MemoryCapacity(total=float(mc.sum()), per_delay=mc)
