"""Gate-wise layer normalisation for the bptt engine: forward, backward, and recomputation.

Rows ``a`` (N, G*H) are normalised per gate over H: ``â = (a - μ) / σ`` with
``σ = sqrt(var + eps)``. Forward saves ``a`` itself (where the engine keeps it anyway),
``μ`` and ``1/σ``; backward is the LN derivative

    da = (dâ - mean(dâ) - â · mean(dâ ⊙ â)) / σ        (means over H)

computed by ATen's fused ``native_layer_norm_backward`` (3-4x faster here than the
same formula written as separate tensor operations).
"""
from __future__ import annotations

import torch

from rnnkit.cells._norm import EPS


def ln_forward(a: torch.Tensor, gates: int, mean_out: torch.Tensor, rstd_out: torch.Tensor) -> torch.Tensor:
    """``â`` (N, G*H) of ``a`` (N, G*H); ``mean_out`` and ``rstd_out`` (N, G) receive μ and 1/σ."""
    N, GH = a.shape
    # (N, G*H) -> (N*G, H): one row per gate
    xhat, mean, rstd = torch.native_layer_norm(a.reshape(N * gates, GH // gates), (GH // gates,), None, None, EPS)
    mean_out.copy_(mean.view(N, gates))
    rstd_out.copy_(rstd.view(N, gates))
    return xhat.view(N, GH)


def ln_backward(dxhat: torch.Tensor, a: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor,
                gates: int) -> torch.Tensor:
    """``da`` (N, G*H) from ``dâ`` (N, G*H), given the saved ``a`` (N, G*H), μ and 1/σ (N, G)."""
    N, GH = a.shape
    H = GH // gates
    da, _, _ = torch.ops.aten.native_layer_norm_backward(
        dxhat.reshape(N * gates, H), a.reshape(N * gates, H), [H], mean.reshape(N * gates, 1),
        rstd.reshape(N * gates, 1), None, None, [True, False, False])
    return da.view(N, GH)


def ln_normalised(a: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, gates: int) -> torch.Tensor:
    """``â`` recomputed for a whole segment: ``a`` (..., G*H), μ and 1/σ (..., G) -> (..., G*H)."""
    shape = a.shape
    a3 = a.reshape(*shape[:-1], gates, shape[-1] // gates)  # (..., G, H)
    return ((a3 - mean.unsqueeze(-1)) * rstd.unsqueeze(-1)).reshape(shape)
