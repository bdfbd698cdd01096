"""Gate-wise layer normalisation, forward and backward, for the bptt engine.

Rows ``a`` (N, G*H) are normalised per gate over H: ``â = (a - μ) / σ`` with
``σ = sqrt(var + eps)``. The backward is the usual LN derivative for ``â`` given
``dâ``: ``da = (dâ - mean(dâ) - â · mean(dâ ⊙ â)) / σ`` (means over H).
"""
from __future__ import annotations

import torch

from rnnkit.cells._norm import EPS


def ln_forward(a: torch.Tensor, gates: int, xhat_out: torch.Tensor, rstd_out: torch.Tensor) -> torch.Tensor:
    """Normalise ``a`` (N, G*H) per gate into ``xhat_out`` (N, G*H); ``rstd_out`` (N, G) gets 1/σ."""
    N = a.shape[0]
    # (N, G*H) -> (N*G, H): one row per gate
    xhat, _, rstd = torch.native_layer_norm(a.reshape(N * gates, -1), (a.shape[1] // gates,), None, None, EPS)
    xhat_out.copy_(xhat.view(N, -1))
    rstd_out.copy_(rstd.view(N, gates))
    return xhat_out


def ln_backward(dxhat: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor, gates: int) -> torch.Tensor:
    """Gradient of the pre-norm rows from ``dxhat`` (N, G*H), given ``xhat`` (N, G*H) and ``rstd`` (N, G)."""
    N = dxhat.shape[0]
    d = dxhat.reshape(N, gates, -1)  # (N, G, H)
    x = xhat.reshape(N, gates, -1)  # (N, G, H)
    centred = d - d.mean(-1, keepdim=True)  # dâ - mean(dâ)
    da = torch.addcmul(centred, x, (d * x).mean(-1, keepdim=True), value=-1)  # - â mean(dâ â)
    return (da * rstd.unsqueeze(-1)).view(N, -1)  # / σ
