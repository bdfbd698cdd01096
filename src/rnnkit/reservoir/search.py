r"""Hyperparameter search over many reservoirs at once: one batched drive, every ridge penalty per Gram.

For a grid of reservoir configurations (spectral radius x leak rate x input scaling x
seed) and ridge penalties, :func:`search` drives all reservoirs together
(:class:`~rnnkit.reservoir.batched.BatchedReservoir`) over the training part of one
series, accumulating each reservoir's normal equations (the Gram matrix of its
features ``[x_t; u_t; 1]``, as :class:`~rnnkit.reservoir.Ridge` forms them) chunk by chunk,
so no reservoir's states are ever all stored. Every ridge penalty then costs one batched
Cholesky solve of those Grams (the intercept unpenalised, as ``Ridge``). The reservoirs
run on over the validation part, and each (configuration, penalty) is scored by its
one-step NRMSE there. Optionally each configuration gets an echo-state check (do two
random initial states forget under zero input?) and its short-term memory capacity.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import torch

from rnnkit.reservoir.batched import BatchedReservoir
from rnnkit.reservoir.config import ReservoirConfig
from rnnkit.reservoir.normal_equations import NormalSums, solve_all, train_scores

AXES = ("spectral_radius", "leak_rate", "input_scaling", "seed")  # the grid's reservoir axes
CHUNK_BYTES = 8 << 20  # states held per chunk: fresh blocks above ~32 MB are mmapped, and page-fault on every
# chunk (on these machines filling a fresh 134 MB tensor took 140 ms against 30 ms for a reused one)


def _chunk(res) -> int:
    """Steps per chunk, so one chunk's states stay under CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // (len(res) * (res.units + 1) * 8))


@dataclass(frozen=True)
class SearchResult:
    """Every (configuration, ridge) scored, best first, and what the search ran over."""

    rows: list  # dicts: the AXES values, "ridge", "val_nrmse", "train_nrmse" and, if asked, "esp_distance",
    # "memory_capacity"
    grid: dict  # axis name -> the values searched (AXES and "ridge")
    base: ReservoirConfig  # the fields not searched

    @property
    def best(self) -> dict:
        return self.rows[0]

    def config(self, row: dict | None = None) -> ReservoirConfig:
        """The :class:`ReservoirConfig` of ``row`` (default: the best)."""
        row = self.best if row is None else row
        return replace(self.base, **{k: row[k] for k in AXES})


def _grid_configs(base: ReservoirConfig, grid: dict) -> list[ReservoirConfig]:
    return [replace(base, **dict(zip(AXES, values))) for values in itertools.product(*(grid[a] for a in AXES))]


def _values(name: str, values) -> tuple:
    values = tuple(values)
    if not values:
        raise ValueError(f"search: expected at least one value for {name}, got none")
    return values


def search(X: torch.Tensor, Y: torch.Tensor, *, spectral_radius, leak_rate, ridge, input_scaling=None,
           seeds=None, base: ReservoirConfig | None = None, train: int | None = None, warmup: int = 100,
           include_input: bool = True, echo_state_check: bool = False, memory_capacity: bool = False, progress=None,
           dtype: torch.dtype = torch.float64) -> SearchResult:
    """Fit and score every configuration of the grid on one series; see the module docstring.

    Args:
        X, Y: inputs (T, I) and targets (T, O) of one series; the first ``train`` steps fit
            the readouts (default: 80 %), the rest validate.
        spectral_radius, leak_rate, input_scaling, seeds, ridge: the values to search
            (``input_scaling`` and ``seeds`` default to ``base``'s one value).
        base: every other reservoir field (units, connectivity, bias scaling, storage, ...).
        warmup: training steps that only settle the reservoirs.
        include_input: readout features ``[x_t; u_t]`` (as ESN's default) rather than ``x_t``.
        echo_state_check: add each configuration's ``esp_distance`` (RMS difference per unit
            after 1,000 zero-input steps from two U(-1, 1) initial states; < 1e-6 means it forgot).
        memory_capacity: add each configuration's ``memory_capacity`` (Jaeger's short-term memory,
            as :func:`rnnkit.reservoir.diagnostics.memory_capacity`; single input only).
        progress: a callable ``(steps_done, steps_total)``, called after each chunk.
    """
    base = ReservoirConfig() if base is None else base
    input_scaling = (base.input_scaling,) if input_scaling is None else input_scaling
    seeds = (base.seed,) if seeds is None else seeds
    grid = {"spectral_radius": _values("spectral_radius", spectral_radius),
            "leak_rate": _values("leak_rate", leak_rate), "input_scaling": _values("input_scaling", input_scaling),
            "seed": _values("seeds", seeds), "ridge": _values("ridge", ridge)}
    bad = [a for a in grid["ridge"] if not (isinstance(a, (int, float)) and math.isfinite(a) and a >= 0)]
    if bad:
        raise ValueError(f"search: expected every ridge penalty finite and >= 0, got {bad[0]!r}")
    X, Y = torch.as_tensor(X, dtype=dtype), torch.as_tensor(Y, dtype=dtype)
    if X.dim() != 2 or Y.dim() != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"search: expected X (T, I) and Y (T, O) of one series with the same T, got shapes "
                         f"{tuple(X.shape)} and {tuple(Y.shape)}")
    T = X.shape[0]
    train = int(0.8 * T) if train is None else train
    if not 0 <= warmup < train < T:
        raise ValueError(f"search: expected 0 <= warmup < train < T={T}, got warmup={warmup}, train={train}")
    configs = _grid_configs(base, grid)
    res = BatchedReservoir(X.shape[1], configs, dtype=dtype)
    alphas = torch.tensor(grid["ridge"], dtype=torch.float64)
    gram, cross, states, shift = _normal_equations(res, X, Y, warmup, train, include_input, progress)
    weights = solve_all(gram, cross, alphas)  # (A, R, D+1, O), for features shifted by `shift`
    train_err = train_scores(gram, cross, weights, Y[warmup:train])
    val_err = _scores(res, X[train:], Y[train:], states, weights, include_input, shift)
    esp = _echo_state_distances(res) if echo_state_check else None
    mc = memory_capacities(res) if memory_capacity else None
    rows = []
    for r, c in enumerate(configs):
        for a, alpha in enumerate(grid["ridge"]):
            row = {k: getattr(c, k) for k in AXES}
            row.update(ridge=alpha, val_nrmse=float(val_err[a, r]), train_nrmse=float(train_err[a, r]))
            if esp is not None:
                row["esp_distance"] = float(esp[r])
            if mc is not None:
                row["memory_capacity"] = float(mc[r])
            rows.append(row)
    rows.sort(key=lambda row: (math.isnan(row["val_nrmse"]), row["val_nrmse"]))
    return SearchResult(rows, grid, base)


def _features(states: torch.Tensor, u: torch.Tensor, include_input: bool, shift=None) -> torch.Tensor:
    """(C, R, N) states and (C, I) inputs -> (R, C, D+1) features ``[x_t; u_t; 1]``, minus ``shift``
    (R, 1, D) on all but the intercept's column when given."""
    C, R, _ = states.shape
    parts = [states.transpose(0, 1)]  # (R, C, N)
    if include_input:
        parts.append(u.unsqueeze(0).expand(R, -1, -1))  # (R, C, I)
    parts.append(states.new_ones(R, C, 1))  # the intercept's column
    Z = torch.cat(parts, dim=2)
    if shift is not None:
        Z[:, :, :-1] -= shift  # in the one new tensor: states and u are not touched
    return Z


def _normal_equations(res, X, Y, warmup, train, include_input, progress, states=None):
    """Each reservoir's Gram (R, D+1, D+1) and cross products (R, D+1, O) over training steps >= warmup,
    the states after the last training step (R, N), starting from ``states`` (None: zeros), and the
    shift (R, 1, D) the sums were taken less (:class:`NormalSums`)."""
    sums = None
    step = _chunk(res)
    for start in range(0, train, step):
        stop = min(train, start + step)
        chunk, states = res.run(X[start:stop], states)  # (C, R, N)
        keep = max(0, warmup - start)
        if keep < stop - start:
            F = chunk[keep:]
            if include_input:
                u = X[start + keep:stop].to(F.dtype)
                F = torch.cat([F, u.unsqueeze(1).expand(-1, F.shape[1], -1)], dim=2)  # (C, R, N + I)
            target = Y[start + keep:stop].to(F.dtype)
            sums = NormalSums(F, target.shape[1], step) if sums is None else sums
            sums.add(F, target)
        if progress is not None:
            progress(stop, train)
    gram, cross = sums.result()
    return gram, cross, states, sums.shift.transpose(0, 1)  # shift as (R, 1, D)


def _scores(res, X, Y, states, weights, include_input, shift) -> torch.Tensor:
    """One-step NRMSE (A, R) of every readout over ``X``/``Y``, driving on from ``states``; ``weights``
    for features less ``shift``."""
    sq = torch.zeros(weights.shape[0], weights.shape[1], dtype=torch.float64)  # (A, R)
    truth = Y.double()
    var_sum = ((truth - truth.mean(0)) ** 2).sum()  # NRMSE = RMSE / std of the truth, pooled over outputs
    step = _chunk(res)
    for start in range(0, X.shape[0], step):
        stop = min(X.shape[0], start + step)
        chunk, states = res.run(X[start:stop], states)
        Z = _features(chunk, X[start:stop], include_input, shift)  # (R, C, D+1)
        pred = torch.einsum("rcd,ardo->arco", Z.double(), weights)  # (A, R, C, O)
        sq += ((pred - truth[start:stop]) ** 2).sum(dim=(2, 3))
    return torch.sqrt(sq / var_sum)


def _echo_state_distances(res, steps: int = 1000, seed: int = 0) -> torch.Tensor:
    """(R,) RMS difference per unit after ``steps`` zero-input steps from two U(-1, 1) initial states."""
    gen = torch.Generator().manual_seed(seed)
    R, N = len(res), res.units
    first = (torch.rand(R, N, generator=gen, dtype=torch.float64) * 2 - 1).to(res.dtype)
    second = (torch.rand(R, N, generator=gen, dtype=torch.float64) * 2 - 1).to(res.dtype)
    step = _chunk(res)
    zeros = torch.zeros(min(step, steps), res.input_size, dtype=res.dtype)
    a, b = first, second
    for start in range(0, steps, step):  # in chunks: only the last states are needed
        n = min(step, steps - start)
        _, a = res.run(zeros[:n], a)
        _, b = res.run(zeros[:n], b)
    return ((a - b) ** 2).mean(dim=1).sqrt()


def memory_capacities(res, max_delay: int | None = None, *, train: int = 4000, test: int = 1000,
                      washout: int = 200, alpha: float = 1e-10, seed: int = 0) -> torch.Tensor:
    """(R,) short-term memory capacity of every reservoir of ``res``: what
    :func:`rnnkit.reservoir.diagnostics.memory_capacity` measures for one (the same input draw,
    delays, split and ridge readouts), for all at once and chunk by chunk."""
    if res.input_size != 1:
        raise ValueError(f"memory_capacities: expected reservoirs with one input, got {res.input_size}")
    K = 2 * res.units if max_delay is None else max_delay
    washout = max(washout, K)  # every target u_{t-k} must exist
    gen = torch.Generator().manual_seed(seed)
    T = washout + train + test
    u = torch.rand(T, generator=gen, dtype=torch.float64) - 0.5  # (T,)
    delayed = torch.stack([u[washout - k:T - k] for k in range(1, K + 1)], dim=1)  # u_{t-k}, (T - washout, K)
    drive = u.view(T, 1)
    _, states = res.run(drive[:washout].to(res.dtype))
    gram, cross, states, shift = _normal_equations(res, drive[washout:washout + train], delayed[:train], 0, train,
                                                   False, None, states)
    weights = solve_all(gram, cross, torch.tensor([alpha], dtype=torch.float64))[0]  # (R, N+1, K)
    sums = None
    step = _chunk(res)
    for start in range(washout + train, T, step):
        stop = min(T, start + step)
        chunk, states = res.run(drive[start:stop].to(res.dtype), states)
        y = _features(chunk, drive[start:stop], False, shift).double() @ weights  # (R, C, K)
        d = delayed[start - washout:stop - washout].unsqueeze(0)  # (1, C, K)
        parts = [y.sum(1), (y * y).sum(1), (y * d).sum(1), d.sum(1), (d * d).sum(1)]
        sums = parts if sums is None else [a + b for a, b in zip(sums, parts)]
    sy, syy, syd, sd, sdd = sums
    n = float(test)
    cov, var_y, var_d = syd - sy * sd / n, syy - sy * sy / n, sdd - sd * sd / n
    return (cov ** 2 / (var_y * var_d)).sum(1)  # (R,)
