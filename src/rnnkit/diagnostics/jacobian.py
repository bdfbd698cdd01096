r"""Jacobian products through time: how a perturbation of :math:`h_{T-k}` reaches :math:`h_T`.

.. math::

    J_t = \frac{\partial h_t}{\partial h_{t-1}}, \qquad
    P_k = \frac{\partial h_T}{\partial h_{T-k}} = J_T J_{T-1} \cdots J_{T-k+1}

For an Elman cell :math:`J_t = \mathrm{diag}(\phi'(a_t)) W_{hh}`. The norm
:math:`\|P_k\|_2` (largest singular value) decays or grows roughly geometrically in
:math:`k`; :func:`jacobian_products` measures it and the rate per step
:math:`\exp(\text{slope of } \log \|P_k\|)`. For an LSTM the state is :math:`(h, c)`
concatenated, so J is (2H, 2H).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.func import jacrev, vmap

from rnnkit._state import flatten, split
from rnnkit.cells.base import Cell
from rnnkit.diagnostics.spectral import rate_from_logs
from rnnkit.kernels import dispatch


def step_jacobians(cell: Cell, x: torch.Tensor, state=None) -> tuple[torch.Tensor, list]:
    """Run ``cell`` over ``x`` (T, B, I) and return J (T, B, S, S) with ``J[t] = d state_{t+1} / d state_t``
    (S: the flattened state size) and the T + 1 states.

    The states come from a recording of one engine call; the T*B Jacobians are then
    taken at once, one ``jacrev`` of a single step vmapped over every (t, b).
    """
    T, B = x.shape[:2]
    with torch.no_grad():
        recording = dispatch.run_recorded(cell, x, state)
    states = recording.states
    prev = tuple(p[:-1].flatten(0, 1) for p in recording.state_parts)  # per part (T*B, S_j): state_t
    like = prev if recording.tuple_state else prev[0]

    def one(x_b, s_b):  # a single transition: (I,), (S,) -> (S,)
        s = split(s_b.unsqueeze(0), like)  # (1, S) -> the state structure, each part (1, S_j)
        return flatten(cell.step(x_b.unsqueeze(0), s)[1]).squeeze(0)

    with torch.no_grad():
        J = vmap(jacrev(one, argnums=1))(x.flatten(0, 1), flatten(like))  # (T*B, S, S)
    return J.view(T, B, *J.shape[1:]), states  # (T, B, S, S)


@dataclass(frozen=True)
class JacobianProducts:
    r"""Norms and singular values of :math:`P_k = \partial h_T / \partial h_{T-k}`, k = 1..K."""

    norms: torch.Tensor  # (K, B) ||P_k||_2 per sample
    singular_values: torch.Tensor  # (K, S) singular values of P_k, averaged over samples in log space
    rate: float  # measured factor per step: exp(slope of mean log ||P_k|| against k)

    def geometric_mean(self) -> torch.Tensor:
        """(K,) the per-sample norms' geometric mean over the batch."""
        return torch.exp(torch.log(self.norms.clamp_min(1e-300)).mean(dim=1))


def jacobian_products(cell: Cell, x: torch.Tensor, state=None, max_lag: int | None = None) -> JacobianProducts:
    """Measure :math:`\\|\\partial h_T/\\partial h_{T-k}\\|` for k = 1..max_lag (default T) on input x (T, B, I)."""
    if x.dim() != 3:
        raise ValueError(f"jacobian_products: expected x with 3 dims (T, B, I), got shape {tuple(x.shape)}")
    T = x.shape[0]
    K = T if max_lag is None else max_lag
    if not 1 <= K <= T:
        raise ValueError(f"jacobian_products: expected 1 <= max_lag <= T = {T}, got {max_lag}")
    J, _ = step_jacobians(cell, x, state)
    J = J.double()  # (T, B, S, S)
    P = J[-1]  # (B, S, S): dh_T/dh_{T-1}
    norms, svals = [], []
    for k in range(1, K + 1):
        if k > 1:
            P = P @ J[T - k]  # dh_T/dh_{T-k} = dh_T/dh_{T-k+1} @ dh_{T-k+1}/dh_{T-k}
        s = torch.linalg.svdvals(P)  # (B, S)
        norms.append(s[:, 0])
        svals.append(torch.log(s.clamp_min(1e-300)).mean(dim=0).exp())
    norms = torch.stack(norms)  # (K, B)
    mean_log = torch.log(norms.clamp_min(1e-300)).mean(dim=1)  # (K,)
    rate = rate_from_logs(mean_log) if K >= 2 else math.nan
    return JacobianProducts(norms, torch.stack(svals), rate)
