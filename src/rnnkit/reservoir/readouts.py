r"""Linear readouts of an echo state network: ridge regression and online RLS (FORCE).

A readout maps features ``z_t`` (the reservoir state, optionally with the input) to
outputs: :math:`y_t = W z_t + c`. Both readouts keep their weights and do their
algebra in float64 whatever the features' dtype, and return outputs in the features'
dtype.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

from rnnkit._checks import check_bool, check_tensor


def _check_alpha(owner: str, alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{owner}: expected alpha to be a number >= 0, got {type(alpha).__name__} {alpha!r}")
    if not alpha >= 0:
        raise ValueError(f"{owner}: expected alpha >= 0, got {alpha}")
    return float(alpha)


def _check_pair(owner: str, Z, Y) -> None:
    check_tensor(owner, "features", Z)
    check_tensor(owner, "targets", Y)
    if Z.dim() != 2 or Y.dim() != 2:
        raise ValueError(f"{owner}: expected features (M, D) and targets (M, O), "
                         f"got shapes {tuple(Z.shape)} and {tuple(Y.shape)}")
    if Z.shape[0] != Y.shape[0]:
        raise ValueError(f"{owner}: expected as many target rows as feature rows, got {Z.shape[0]} feature rows "
                         f"and {Y.shape[0]} target rows")


class _Readout(nn.Module):
    """Shared storage and forward of the linear readouts: ``weight`` (O, D), ``bias`` (O,), float64."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", None)
        self.register_buffer("bias", None)

    @property
    def fitted(self) -> bool:
        return self.weight is not None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``y = W z + c`` for features ``z`` (..., D) -> (..., O), in ``z``'s dtype."""
        if self.weight is None:
            raise RuntimeError(f"{type(self).__name__}: not fitted yet; call fit(features, targets) first")
        if z.shape[-1] != self.weight.shape[1]:
            raise ValueError(f"{type(self).__name__}: expected features with {self.weight.shape[1]} columns, "
                             f"got {z.shape[-1]}")
        w = self.weight.to(device=z.device, dtype=z.dtype)
        return torch.nn.functional.linear(z, w, self.bias.to(device=z.device, dtype=z.dtype))


class Ridge(_Readout):
    r"""Ridge regression (Tikhonov), solved in closed form in float64.

    With features :math:`Z` (M, D) stacked over time and batch, targets :math:`Y` (M, O),
    and (when ``fit_bias``) a column of ones appended to :math:`Z` whose weight is not
    penalised:

    .. math::
        [W \; c]^\top = (\tilde Z^\top \tilde Z + \alpha P)^{-1} \tilde Z^\top Y,
        \qquad \tilde Z = [Z \; \mathbf 1],\; P = \mathrm{diag}(1, \dots, 1, 0)

    ``fit`` may also be split: ``reset()``, then ``accumulate(Z, Y)`` on chunks, then
    ``solve()`` (only :math:`\tilde Z^\top \tilde Z` (D+1, D+1) is kept, never all of Z).

    With an intercept the sums are taken over :math:`Z - \mu` with :math:`\mu` the mean of the
    first chunk: the same solution (the unpenalised intercept absorbs the shift), but the
    ones column no longer nearly repeats the state columns, so a tiny ``alpha`` over states
    with a large mean is not lost to rounding (at ``alpha = 1e-10`` the plain sums put the
    validation NRMSE 1.6 % off the exact ridge solution, the shifted ones 1e-4; issue 16).

    Args:
        alpha: the ridge penalty :math:`\alpha \ge 0`.
        fit_bias: learn the intercept ``c`` (unpenalised); else ``c = 0``.

    Attributes: ``weight`` (O, D) and ``bias`` (O,), float64 buffers, after fitting.
    """

    def __init__(self, alpha: float = 1e-8, fit_bias: bool = True) -> None:
        super().__init__()
        self.alpha = _check_alpha("Ridge", alpha)
        self.fit_bias = check_bool("Ridge", "fit_bias", fit_bias)
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated sums (the fitted weights stay until the next solve)."""
        self._gram = None  # sum of z~ z~^T, (D+1, D+1) or (D, D), float64
        self._cross = None  # sum of z~ y^T, (D+1, O) or (D, O), float64
        self._shift = None  # (D,): the first chunk's feature means, subtracted from every chunk (with an intercept)

    def accumulate(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        """Add features ``Z`` (M, D) and targets ``Y`` (M, O) to the normal equations."""
        _check_pair("Ridge", Z, Y)
        Z, Y = Z.detach().double(), Y.detach().double()
        if self._gram is not None and (Z.shape[1] + self.fit_bias, Y.shape[1]) != tuple(self._cross.shape):
            raise ValueError(f"Ridge: expected features with {self._gram.shape[0] - self.fit_bias} columns and "
                             f"targets with {self._cross.shape[1]}, as accumulated so far; got {Z.shape[1]} "
                             f"and {Y.shape[1]}")
        if self.fit_bias:
            if self._shift is None:
                self._shift = Z.mean(0)
            Z = Z - self._shift
        gram = _gram(Z)  # Z^T Z, (D, D)
        cross = Z.t() @ Y  # (D, O)
        if self.fit_bias:
            s = Z.sum(0, keepdim=True)  # 1^T Z, (1, D)
            n = torch.tensor([[float(Z.shape[0])]], dtype=torch.float64, device=Z.device)
            gram = torch.cat([torch.cat([gram, s.t()], 1), torch.cat([s, n], 1)], 0)  # (D+1, D+1)
            cross = torch.cat([cross, Y.sum(0, keepdim=True)], 0)  # (D+1, O)
        if self._gram is None:
            self._gram, self._cross = gram, cross
        else:
            self._gram += gram
            self._cross += cross

    def solve(self) -> "Ridge":
        """Solve the accumulated normal equations; sets ``weight`` and ``bias``."""
        if self._gram is None:
            raise RuntimeError("Ridge: nothing accumulated; call accumulate(features, targets) or fit first")
        D1 = self._gram.shape[0]
        penalty = torch.full((D1,), self.alpha, dtype=torch.float64, device=self._gram.device)
        if self.fit_bias:
            penalty[-1] = 0.0  # the intercept is not shrunk
        A = self._gram + torch.diag(penalty)  # (D+1, D+1)
        L, info = torch.linalg.cholesky_ex(A)
        sol = torch.cholesky_solve(self._cross, L) if int(info) == 0 else solve_fallback(A, self._cross)
        if self.fit_bias:
            self.weight, self.bias = sol[:-1].t().contiguous(), sol[-1] - self._shift @ sol[:-1]
        else:
            self.weight = sol.t().contiguous()
            self.bias = torch.zeros(sol.shape[1], dtype=torch.float64, device=sol.device)
        return self

    def fit(self, Z: torch.Tensor, Y: torch.Tensor) -> "Ridge":
        """Fit on features ``Z`` (M, D) and targets ``Y`` (M, O) in one go."""
        self.reset()
        self.accumulate(Z, Y)
        return self.solve()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, fit_bias={self.fit_bias}"


def solve_fallback(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A^-1 B`` for a symmetric ``A`` that Cholesky refused (not positive definite to working precision:
    a tiny ridge over nearly collinear states): LU with partial pivoting, as a general symmetric solver
    would, and least squares (SVD) only if A is exactly singular. Least squares first, as before, cut
    small singular values and fitted visibly worse at ridge 1e-10 (benchmarks/RESULTS.md, issue 16)."""
    solution, info = torch.linalg.solve_ex(A, B)
    if int(info) == 0 and bool(torch.isfinite(solution).all()):
        return solution
    return torch.linalg.lstsq(A.cpu(), B.cpu(), driver="gelsd").solution.to(A.device)


def _gram(Z: torch.Tensor) -> torch.Tensor:
    """``Z^T Z`` in float64; on the CPU through numpy, whose ``A.T @ A`` is a symmetric rank-k update."""
    if Z.device.type == "cpu":
        z = Z.numpy()
        return torch.from_numpy(z.T @ z)
    return Z.t() @ Z


class RLS(_Readout):
    r"""Recursive least squares, the online rule of FORCE learning (Sussillo & Abbott 2009).

    For each row :math:`z` (features, with a 1 appended when ``fit_bias``) and target
    :math:`y`, in order:

    .. math::
        k = \frac{P z}{\lambda + z^\top P z},\qquad e = W z - y,\qquad
        W \leftarrow W - e\, k^\top,\qquad P \leftarrow (P - k z^\top P) / \lambda

    from :math:`W = 0, P = I / \alpha`. With forgetting factor :math:`\lambda = 1` the
    result after all rows equals ridge regression with penalty :math:`\alpha` on every
    weight (the intercept included).

    Args:
        alpha: the initial :math:`P = I / \alpha`, > 0 (small alpha: fast, noisy learning).
        forgetting: :math:`\lambda \in (0, 1]`; below 1 forgets old rows exponentially.
        fit_bias: learn an intercept ``c``.
    """

    def __init__(self, alpha: float = 1.0, forgetting: float = 1.0, fit_bias: bool = True) -> None:
        super().__init__()
        self.alpha = _check_alpha("RLS", alpha)
        if self.alpha == 0:
            raise ValueError("RLS: expected alpha > 0 (P starts as I / alpha), got 0")
        if isinstance(forgetting, bool) or not isinstance(forgetting, numbers.Real) or not 0 < forgetting <= 1:
            raise ValueError(f"RLS: expected forgetting in (0, 1], got {forgetting!r}")
        self.forgetting = float(forgetting)
        self.fit_bias = check_bool("RLS", "fit_bias", fit_bias)
        self._P = None  # inverse correlation matrix, (D+1, D+1), float64

    def start(self, features: int, outputs: int, device=None) -> None:
        """Reset to ``W = 0``, ``P = I / alpha`` for ``features`` columns and ``outputs`` targets."""
        D1 = features + int(self.fit_bias)
        self._P = torch.eye(D1, dtype=torch.float64, device=device) / self.alpha
        self._W = torch.zeros(outputs, D1, dtype=torch.float64, device=device)  # [W c], (O, D+1)
        self._publish()

    def _publish(self) -> None:
        if self.fit_bias:
            self.weight, self.bias = self._W[:, :-1], self._W[:, -1]
        else:
            self.weight = self._W
            self.bias = torch.zeros(self._W.shape[0], dtype=torch.float64, device=self._W.device)

    def update(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One RLS step on features ``z`` (D,) and target ``y`` (O,); returns the prior error ``W z - y``."""
        if self._P is None:
            self.start(z.shape[-1], y.shape[-1], z.device)
        z = z.detach().double()
        if self.fit_bias:
            z = torch.cat([z, z.new_ones(1)])  # (D+1,)
        Pz = self._P @ z  # (D+1,)
        k = Pz / (self.forgetting + z @ Pz)  # gain, (D+1,)
        e = self._W @ z - y.detach().double()  # prior error, (O,)
        self._W -= torch.outer(e, k)  # (O, D+1)
        self._P -= torch.outer(k, Pz)  # P z z^T P / (lambda + z^T P z); P is symmetric
        if self.forgetting != 1.0:
            self._P /= self.forgetting
        self._publish()
        return e

    def fit(self, Z: torch.Tensor, Y: torch.Tensor) -> "RLS":
        """Run :meth:`update` over the rows of ``Z`` (M, D) and ``Y`` (M, O) in order, from scratch."""
        _check_pair("RLS", Z, Y)
        self.start(Z.shape[1], Y.shape[1], Z.device)
        for z, y in zip(Z, Y):
            self.update(z, y)
        return self

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, forgetting={self.forgetting}, fit_bias={self.fit_bias}"
