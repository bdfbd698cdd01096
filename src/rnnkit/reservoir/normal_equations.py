"""The normal equations of many ridge readouts at once: summed chunk by chunk, solved for every penalty.

:class:`NormalSums` accumulates R reservoirs' Gram matrices and cross products over chunks of
their features; :func:`solve_all` solves them for a list of ridge penalties (the intercept
unpenalised); :func:`train_scores` gives each readout's training NRMSE from the sums alone.
"""
from __future__ import annotations

import torch

from rnnkit.reservoir.readouts import solve_fallback

GRAM_BLOCKS = 4  # the Gram's upper block triangle only, 10 of 16 blocks: at 500 units and 50 reservoirs its
# 9,900 steps took 2.2 s against 3.0 s for the whole product (2 cores, float64)
FOLD_EVERY = 16  # chunks summed apart before their sum joins the total: ~2 sqrt(chunks) sequential additions per
# entry instead of one per chunk. At 2,000 units (27-step chunks) and ridge 1e-10 the plain running sum put the
# validation NRMSE 1 % off the exact ridge solution, the folded one 0.03 %


class NormalSums:
    """Running sums of R reservoirs' normal equations over chunks of features F (C, R, D) and targets
    (C, O), taken less the first chunk's feature means (the shift): the intercept's column then does not
    nearly repeat the features, so a tiny ridge is solved to rounding (the solution is the same; ``Ridge``
    does as much). The Gram is symmetric: only its upper block triangle is multiplied (GRAM_BLOCKS x
    GRAM_BLOCKS blocks), into buffers made once; the cross products are one matrix product per chunk.
    The Gram blocks are summed in two levels (FOLD_EVERY chunks apart, then into the total), as
    rounding over ~10,000 steps is otherwise as large as a ridge of 1e-10 at 2,000 units."""

    def __init__(self, F: torch.Tensor, outputs: int, steps: int) -> None:
        _, R, D = F.shape
        self.shift = F.mean(0, keepdim=True)  # (1, R, D)
        self.features = F.new_empty(R, steps, D)  # each chunk's shifted features, one reservoir after another
        k = min(GRAM_BLOCKS, D)
        self.edges = [round(i * D / k) for i in range(k + 1)]
        e = self.edges
        self.blocks = {(i, j): F.new_zeros(R, e[i + 1] - e[i], e[j + 1] - e[j]) for i in range(k) for j in range(i, k)}
        self.partial = {key: torch.zeros_like(block) for key, block in self.blocks.items()}  # the last chunks' sum
        self.chunks = 0
        self.total, self.count = F.new_zeros(R, D), 0  # sum of the shifted features, steps summed
        self.cross, self.target = F.new_zeros(R * D, outputs), F.new_zeros(outputs)

    def add(self, F: torch.Tensor, target: torch.Tensor) -> None:
        C, R, D = F.shape
        Z = torch.sub(F.transpose(0, 1), self.shift.transpose(0, 1), out=self.features[:, :C])  # (R, C, D)
        F = Z.transpose(0, 1)  # (C, R, D), F itself may share memory with the reservoirs' states
        parts = [Z[:, :, a:b] for a, b in zip(self.edges, self.edges[1:])]
        for (i, j), block in self.partial.items():
            block.baddbmm_(parts[i].transpose(1, 2), parts[j])
        self.chunks += 1
        if self.chunks % FOLD_EVERY == 0:
            self._fold()
        self.total += F.sum(0)
        self.count += C
        self.cross.view(R, D, -1).baddbmm_(Z.transpose(1, 2), target.expand(R, -1, -1))  # Z^T y
        self.target += target.sum(0)

    def _fold(self) -> None:
        for key, block in self.partial.items():
            self.blocks[key] += block
            block.zero_()

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gram (R, D+1, D+1) and cross products (R, D+1, O) of the features ``[z - shift; 1]``."""
        self._fold()
        R, D = self.total.shape
        e = self.edges
        gram = self.total.new_empty(R, D + 1, D + 1)
        for (i, j), block in self.blocks.items():
            gram[:, e[i]:e[i + 1], e[j]:e[j + 1]] = block
            gram[:, e[j]:e[j + 1], e[i]:e[i + 1]] = block.transpose(1, 2)
        gram[:, :D, D] = self.total
        gram[:, D, :D] = self.total
        gram[:, D, D] = self.count
        cross = torch.cat([self.cross.view(R, D, -1), self.target.expand(R, 1, -1)], dim=1)
        return gram, cross


def solve_all(gram: torch.Tensor, cross: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Readouts (A, R, D+1, O) for every penalty: one batched Cholesky solve each, intercept unpenalised
    (systems not positive definite to working precision fall back as Ridge does, :func:`solve_fallback`)."""
    gram, cross = gram.double(), cross.double()
    D1 = gram.shape[-1]
    penalty = torch.ones(D1, dtype=torch.float64)
    penalty[-1] = 0.0
    out = []
    for alpha in alphas.tolist():
        A = gram + torch.diag(penalty * alpha)  # (R, D+1, D+1)
        L, info = torch.linalg.cholesky_ex(A)
        sol = torch.cholesky_solve(cross, L)  # (R, D+1, O)
        for r in (info != 0).nonzero().flatten().tolist():
            sol[r] = solve_fallback(A[r], cross[r])
        out.append(sol)
    return torch.stack(out)


def train_scores(gram: torch.Tensor, cross: torch.Tensor, weights: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Training NRMSE (A, R) from the normal equations alone, without driving the reservoirs again:
    ``SSE = sum y^2 - 2 tr(W^T Z^T Y) + tr(W^T Z^T Z W)`` (float64; relative error of a tiny SSE ~ 1e-16 / NRMSE^2)."""
    Y = Y.double()
    yy = (Y ** 2).sum()
    fit = torch.einsum("ardo,rdo->ar", weights, cross)  # tr(W^T Z^T Y), (A, R)
    quad = torch.einsum("ardo,rde,areo->ar", weights, gram, weights)  # tr(W^T G W), (A, R)
    sse = (yy - 2 * fit + quad).clamp_min(0)
    return torch.sqrt(sse / ((Y - Y.mean(0)) ** 2).sum())
