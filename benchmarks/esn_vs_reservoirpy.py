"""rnnkit's ESN against ReservoirPy, same reservoir, same data, one run.

Both libraries get the *same* weight matrices (W, W_in, bias drawn by rnnkit's
``Reservoir`` from one ``ReservoirConfig``; W handed to ReservoirPy as the scipy CSR
matrix its own initialiser would make), the same leak rate, the same ridge penalty
with an unpenalised intercept, the same warm-up and the same Mackey-Glass data
(tau = 17, from ``rnnkit.data.mackey_glass``). Both run in float64. Measured, side by
side, at each size: fit time (driving the reservoir over the training steps and
solving the readout; building the matrices is not timed), prediction time (driving it
over the test steps and applying the readout), and one-step NRMSE on the test steps.

ReservoirPy is a benchmark-only dependency (``pip install reservoirpy``), never
rnnkit's.

    python benchmarks/esn_vs_reservoirpy.py --units 500,2000 --train 10000
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

import rnnkit
from rnnkit.data import mackey_glass
from rnnkit.reservoir import ESN, ReservoirConfig, Ridge


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nrmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - truth) ** 2)) / np.std(truth))


def best_of(repeats: int, fn):
    """(smallest wall time over ``repeats`` calls, result of the last call)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def rnnkit_side(config, args, X, Y, Xt):
    esn = ESN(config, Ridge(args.ridge), include_input=False)
    esn.fit(X[:50], Y[:50])  # builds the reservoir (draws and scales W) outside the timing
    fit_s, _ = best_of(args.repeats, lambda: esn.fit(X, Y, warmup=args.warmup))
    pred_s, pred = best_of(1, lambda: esn.predict(Xt, reset=False))
    return esn, fit_s, pred_s, pred.numpy()


def reservoirpy_side(esn_rk, config, args, X, Y, Xt):
    import scipy.sparse
    from reservoirpy.nodes import Reservoir, Ridge as RpyRidge

    res = esn_rk.reservoir
    W = scipy.sparse.csr_array(res.dense_weight_hh().numpy())  # what ReservoirPy's normal() initialiser returns
    Win = res.weight_ih.detach().numpy().copy()  # (N, 1)
    bias = res.bias.detach().numpy().copy()  # (N,)

    def fit():
        reservoir = Reservoir(W=W, Win=Win, bias=bias, lr=config.leak_rate, input_dim=1)
        readout = RpyRidge(ridge=args.ridge, fit_bias=True)
        model = reservoir >> readout
        model.fit(X, Y, warmup=args.warmup)
        return model

    fit_s, model = best_of(args.repeats, fit)
    pred_s, pred = best_of(1, lambda: model.run(Xt))
    return fit_s, pred_s, np.asarray(pred)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", default="500,2000")
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--sr", type=float, default=1.0)
    p.add_argument("--leak", type=float, default=0.8)
    p.add_argument("--input-scaling", type=float, default=0.5)
    p.add_argument("--bias-scaling", type=float, default=0.2)
    p.add_argument("--connectivity", type=float, default=0.1)
    p.add_argument("--ridge", type=float, default=1e-9)
    p.add_argument("--storage", choices=["dense", "sparse"], default="sparse", help="rnnkit's storage of W")
    p.add_argument("--repeats", type=int, default=2, help="fit timings: best of this many")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's, one per core; rnnkit's step loop drops "
                        "to one thread by itself for small reservoirs). numpy's BLAS, which both "
                        "libraries use for the Gram matrix, keeps its own setting")
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    import reservoirpy
    import scipy

    series = mackey_glass(args.train + args.test + 1).numpy()
    v = np.tanh(series - 1.0)[:, None]  # Jaeger's squashing, (T + 1, 1)
    X, Y = v[:args.train], v[1:args.train + 1]
    Xt, Yt = v[args.train:-1], v[args.train + 1:]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu_name()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, scipy {scipy.__version__}, "
          f"rnnkit {rnnkit.__version__}, reservoirpy {reservoirpy.__version__}")
    print(f"# Mackey-Glass tau=17: train {args.train}, test {args.test}, warmup {args.warmup}; sr {args.sr}, "
          f"leak {args.leak}, input scaling {args.input_scaling}, bias scaling {args.bias_scaling}, "
          f"connectivity {args.connectivity}, ridge {args.ridge}, float64; rnnkit W storage {args.storage}")
    print("| units | rnnkit fit s | ReservoirPy fit s | fit speed-up | rnnkit predict s | ReservoirPy predict s "
          "| predict speed-up | rnnkit NRMSE | ReservoirPy NRMSE |")
    print("|---|---|---|---|---|---|---|---|---|")
    for units in (int(u) for u in args.units.split(",")):
        config = ReservoirConfig(units=units, spectral_radius=args.sr, leak_rate=args.leak,
                                 input_scaling=args.input_scaling, bias_scaling=args.bias_scaling,
                                 connectivity=args.connectivity, storage=args.storage, seed=0)
        esn, fit_rk, pred_rk, out_rk = rnnkit_side(config, args, X, Y, Xt)
        fit_rp, pred_rp, out_rp = reservoirpy_side(esn, config, args, X, Y, Xt)
        e_rk, e_rp = nrmse(out_rk, Yt), nrmse(out_rp, Yt)
        print(f"| {units} | {fit_rk:.3f} | {fit_rp:.3f} | {fit_rp / fit_rk:.1f}x | {pred_rk:.3f} | {pred_rp:.3f} "
              f"| {pred_rp / pred_rk:.1f}x | {e_rk:.3e} | {e_rp:.3e} |", flush=True)


if __name__ == "__main__":
    main()
