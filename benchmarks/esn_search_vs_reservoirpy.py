"""A hyperparameter search: rnnkit's batched search against ReservoirPy fitting one model per configuration.

The grid: spectral radius x leak rate x ridge x reservoir seed (default 5 x 5 x 4 x 2 =
200 fits) at 500 units, on Mackey-Glass (tau = 17, Jaeger's tanh(x - 1) squashing):
10,000 training steps (the first 100 a warm-up), then 2,000 validation steps scored by
one-step NRMSE. rnnkit runs ``rnnkit.reservoir.search`` (every reservoir driven together,
one Gram per reservoir, every ridge from it), end to end: drawing the reservoirs included.
ReservoirPy 0.4 runs the loop its documentation's hyperparameter tutorial writes, one
``Reservoir >> Ridge`` model per configuration, fitted and run on the validation steps;
it gets rnnkit's matrices for each configuration (so the two can be compared number for
number), and building them is *not* in its time. Both in float64, readout on the
reservoir states with an unpenalised intercept. Prints both times, the speed-up, the
best configuration of each, and the largest relative NRMSE difference over all fits.
``--exact 1e-10`` also scores every configuration at those ridges by the exact ridge solution
(least squares by QR on the centred states stacked over sqrt(ridge) I: the condition number
of the states, not of their Gram matrix) and says how far each library is from it.

ReservoirPy is a benchmark-only dependency (``pip install reservoirpy``), never rnnkit's.

    python benchmarks/esn_search_vs_reservoirpy.py                        # 500 units, 200 fits
    python benchmarks/esn_search_vs_reservoirpy.py --exact 1e-10          # and the exact solutions there
    python benchmarks/esn_search_vs_reservoirpy.py --units 2000 --sr 0.9,1.0,1.1 --leak 0.5,0.75,1.0
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import rnnkit
from rnnkit.data import mackey_glass
from rnnkit.reservoir import ReservoirConfig
from rnnkit.reservoir.reservoir import raw_draw, scaled
from rnnkit.reservoir.search import search


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def nrmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - truth) ** 2)) / np.std(truth))


def reservoirpy_loop(args, base, X, Y, Xv, Yv):
    """One ReservoirPy model per configuration; returns (seconds, {(sr, leak, ridge, seed): nrmse})."""
    import scipy.sparse
    from reservoirpy.nodes import Reservoir, Ridge

    matrices = {}
    for seed in args.seeds:  # rnnkit's draws for every configuration, outside the timing
        for sr in args.sr:
            config = ReservoirConfig(**{**base.__dict__, "spectral_radius": sr, "seed": seed})
            w_ih, w, b = scaled(raw_draw(config, 1), config)
            matrices[sr, seed] = (scipy.sparse.csr_array(w.numpy()), w_ih.numpy().copy(), b.numpy().copy())
    scores = {}
    start = time.perf_counter()
    for seed in args.seeds:
        for sr in args.sr:
            for leak in args.leak:
                for ridge in args.ridge:
                    W, Win, bias = matrices[sr, seed]
                    model = Reservoir(W=W, Win=Win, bias=bias, lr=leak, input_dim=1) >> Ridge(ridge=ridge)
                    model.fit(X, Y, warmup=args.warmup)
                    scores[sr, leak, ridge, seed] = nrmse(np.asarray(model.run(Xv)), Yv)
    return time.perf_counter() - start, scores


def exact_scores(args, base, X, Y, ridges) -> dict:
    """{(sr, leak, ridge, seed): NRMSE} of the exact ridge solution (intercept unpenalised) for each ridge."""
    from rnnkit.reservoir.batched import BatchedReservoir

    scores = {}
    truth = Y[args.train:]
    for seed in args.seeds:
        for sr in args.sr:
            for leak in args.leak:
                config = ReservoirConfig(**{**base.__dict__, "spectral_radius": sr, "leak_rate": leak, "seed": seed})
                states = BatchedReservoir(1, [config]).run(torch.from_numpy(X))[0][:, 0].numpy()
                Z, T = states[args.warmup:args.train], Y[args.warmup:args.train]
                m, tm = Z.mean(0), T.mean(0)
                for ridge in ridges:
                    A = np.vstack([Z - m, np.sqrt(ridge) * np.eye(Z.shape[1])])
                    q, r = np.linalg.qr(A)
                    W = np.linalg.solve(r, q.T @ np.vstack([T - tm, np.zeros((Z.shape[1], T.shape[1]))]))
                    scores[sr, leak, ridge, seed] = nrmse((states[args.train:] - m) @ W + tm, truth)
    return scores


def agreement(ours: dict, ref: dict, ridge: float) -> str:
    d = [abs(ours[k] - ref[k]) / ref[k] for k in ref if k[2] == ridge]
    return f"{sum(v <= 0.01 for v in d)} of {len(d)} within 1 %, largest relative difference {max(d):.2e}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=int, default=500)
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--validation", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--sr", type=floats, default=[0.8, 0.9, 1.0, 1.1, 1.2])
    p.add_argument("--leak", type=floats, default=[0.3, 0.475, 0.65, 0.825, 1.0])
    p.add_argument("--ridge", type=floats, default=[1e-10, 1e-8, 1e-6, 1e-4])
    p.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1])
    p.add_argument("--skip-reservoirpy", action="store_true", help="time rnnkit alone")
    p.add_argument("--exact", type=floats, default=[], help="ridges to score by the exact solution too")
    args = p.parse_args()
    import reservoirpy

    series = mackey_glass(args.train + args.validation + 1).numpy()
    v = np.tanh(series - 1.0)[:, None]  # (T + 1, 1)
    X, Y = v[:-1], v[1:]
    base = ReservoirConfig(units=args.units, input_scaling=0.5, bias_scaling=0.2, connectivity=0.1)
    fits = len(args.sr) * len(args.leak) * len(args.ridge) * len(args.seeds)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, rnnkit "
          f"{rnnkit.__version__}, reservoirpy {reservoirpy.__version__}")
    print(f"# {args.units} units, {fits} fits: sr {args.sr} x leak {args.leak} x ridge {args.ridge} x seeds "
          f"{args.seeds}; train {args.train} (warm-up {args.warmup}), validation {args.validation}; rnnkit's "
          "batched W: CSR (storage 'auto': connectivity 0.1)", flush=True)
    start = time.perf_counter()
    result = search(torch.from_numpy(X), torch.from_numpy(Y), spectral_radius=args.sr, leak_rate=args.leak,
                    ridge=args.ridge, seeds=args.seeds, base=base, train=args.train, warmup=args.warmup,
                    include_input=False)
    rk_s = time.perf_counter() - start
    best = result.best
    print(f"rnnkit search: {rk_s:.2f} s; best sr {best['spectral_radius']}, leak {best['leak_rate']}, ridge "
          f"{best['ridge']:g}, seed {best['seed']}: validation NRMSE {best['val_nrmse']:.4e}", flush=True)
    if args.skip_reservoirpy:
        return
    rp_s, scores = reservoirpy_loop(args, base, X[:args.train], Y[:args.train], X[args.train:], Y[args.train:])
    key = min(scores, key=scores.get)
    print(f"ReservoirPy loop: {rp_s:.2f} s; best sr {key[0]}, leak {key[1]}, ridge {key[2]:g}, seed {key[3]}: "
          f"validation NRMSE {scores[key]:.4e}")
    diff = {}
    for r in result.rows:
        theirs = scores[r["spectral_radius"], r["leak_rate"], r["ridge"], r["seed"]]
        diff.setdefault(r["ridge"], []).append(abs(r["val_nrmse"] - theirs) / theirs)
    same = key == (best["spectral_radius"], best["leak_rate"], best["ridge"], best["seed"])
    print(f"speed-up x{rp_s / rk_s:.1f}; same best configuration: {same}")
    for ridge, d in sorted(diff.items()):
        within = sum(v <= 0.01 for v in d)
        print(f"  ridge {ridge:g}: {within} of {len(d)} fits within 1 % of ReservoirPy's NRMSE; largest relative "
              f"difference {max(d):.2e}")
    if args.exact:
        start = time.perf_counter()
        ref = exact_scores(args, base, X, Y, args.exact)
        ours = {(r["spectral_radius"], r["leak_rate"], r["ridge"], r["seed"]): r["val_nrmse"] for r in result.rows}
        print(f"exact ridge solutions (QR on the centred states, {time.perf_counter() - start:.0f} s):")
        for ridge in args.exact:
            print(f"  ridge {ridge:g}: rnnkit {agreement(ours, ref, ridge)}; "
                  f"ReservoirPy {agreement(scores, ref, ridge)}")


if __name__ == "__main__":
    main()
