"""Jaeger's Mackey-Glass protocol for echo state networks: NRMSE84.

Train an ESN on ``--train`` teacher-forced steps of Mackey-Glass (tau = 17, Euler step
0.1, one sample per time unit) to predict the next value, dropping ``--washout`` steps.
Then, for each of ``--trials`` test windows taken after the training data, drive it
teacher-forced for 1,000 steps, let it run free for 84 steps, and compare its 84th
free-running value with the truth. In the series' original units:

    NRMSE84 = sqrt(mean over trials of (y_84 - d_84)^2) / std(d)

(Jaeger 2001 reports 2.8e-4 with 400 units; Jaeger & Haas 2004 10^-4.2 with 1,000.)
Every hyperparameter flag takes a comma-separated list; all combinations are run and
one line is printed per combination, so a tuning sweep is one command.

    python benchmarks/esn_mackey_glass.py --units 400 --train 3000 --trials 100
"""
from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time

import torch

import rnnkit
from rnnkit.data import mackey_glass
from rnnkit.reservoir import ESN, ReservoirConfig, Ridge

CONTEXT, HORIZON = 1000, 84  # teacher-forced steps before each test, free-running steps


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def to_model(x: torch.Tensor, transform: str) -> torch.Tensor:
    """Original units -> the units the ESN sees (Jaeger squashed the series with tanh(x - 1))."""
    return torch.tanh(x - 1.0) if transform == "tanh" else x - 1.0


def from_model(v: torch.Tensor, transform: str) -> torch.Tensor:
    return torch.atanh(v.clamp(-1 + 1e-12, 1 - 1e-12)) + 1.0 if transform == "tanh" else v + 1.0


def nrmse84(args, units, sr, leak, inp, bias, ridge, noise, seed, series) -> tuple[float, float, float]:
    """(NRMSE84, one-step NRMSE on the test segment, fit seconds) for one configuration."""
    train = series[:args.train + 1]  # (train + 1,)
    test = series[args.train + 1:]  # held-out, never seen in training
    v = to_model(train, args.transform)[:, None]  # (train + 1, 1)
    config = ReservoirConfig(units=units, spectral_radius=sr, leak_rate=leak, input_scaling=inp,
                             bias_scaling=bias, connectivity=args.connectivity, storage=args.storage, seed=seed)
    esn = ESN(config, Ridge(ridge), input_noise=noise)
    start = time.perf_counter()
    esn.fit(v[:-1], v[1:], warmup=args.washout)
    fit_s = time.perf_counter() - start
    starts = [k * args.spacing for k in range(args.trials)]
    windows = torch.stack([test[s:s + CONTEXT + HORIZON] for s in starts], dim=1)  # (CONTEXT + HORIZON, trials)
    context = to_model(windows[:CONTEXT], args.transform).unsqueeze(2)  # (CONTEXT, trials, 1)
    out = from_model(esn.generate(HORIZON, warmup=context)[:, :, 0], args.transform)  # (HORIZON, trials)
    sigma = float(series.std())
    err84 = out[HORIZON - 1] - windows[CONTEXT + HORIZON - 1]  # (trials,)
    one_step = from_model(esn.predict(context)[CONTEXT // 2:-1, :, 0], args.transform)  # skip the washout half
    err1 = one_step - windows[CONTEXT // 2 + 1:CONTEXT]
    return (float(err84.pow(2).mean().sqrt()) / sigma, float(err1.pow(2).mean().sqrt()) / sigma, fit_s)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=ints, default=[400])
    p.add_argument("--sr", type=floats, default=[0.8], help="spectral radius")
    p.add_argument("--leak", type=floats, default=[1.0], help="leak rate")
    p.add_argument("--input-scaling", type=floats, default=[1.0])
    p.add_argument("--bias-scaling", type=floats, default=[0.2])
    p.add_argument("--ridge", type=floats, default=[1e-10])
    p.add_argument("--noise", type=floats, default=[0.0], help="input noise std during training")
    p.add_argument("--seed", type=ints, default=[0], help="reservoir seeds")
    p.add_argument("--connectivity", type=float, default=0.1)
    p.add_argument("--storage", choices=["dense", "sparse"], default="dense")
    p.add_argument("--transform", choices=["tanh", "shift"], default="tanh")
    p.add_argument("--tau", type=float, default=17.0)
    p.add_argument("--train", type=int, default=3000, help="teacher-forced training steps")
    p.add_argument("--washout", type=int, default=1000, help="first training steps not used by the readout")
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--spacing", type=int, default=50, help="steps between test windows")
    p.add_argument("--series-seed", type=int, default=0)
    args = p.parse_args()
    n = args.train + 1 + (args.trials - 1) * args.spacing + CONTEXT + HORIZON
    series = mackey_glass(n, tau=args.tau, seed=args.series_seed)  # (n,) original units
    print(f"# rnnkit {rnnkit.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"MG tau={args.tau}, train={args.train}, washout={args.washout}, trials={args.trials}, "
          f"transform={args.transform}, connectivity={args.connectivity}, series seed {args.series_seed}")
    print("units  sr     leak  in     bias   ridge    noise    seed  NRMSE84    log10     1-step     fit_s")
    grid = itertools.product(args.units, args.sr, args.leak, args.input_scaling, args.bias_scaling,
                             args.ridge, args.noise, args.seed)
    by_config: dict[tuple, list[float]] = {}
    for units, sr, leak, inp, bias, ridge, noise, seed in grid:
        e84, e1, fit_s = nrmse84(args, units, sr, leak, inp, bias, ridge, noise, seed, series)
        by_config.setdefault((units, sr, leak, inp, bias, ridge, noise), []).append(e84)
        print(f"{units:<6d} {sr:<6.3g} {leak:<5.3g} {inp:<6.3g} {bias:<6.3g} {ridge:<8.1e} {noise:<8.1e} "
              f"{seed:<5d} {e84:<10.3e} {math.log10(e84):<9.2f} {e1:<10.3e} {fit_s:.2f}", flush=True)
    if len(args.seed) > 1:
        print("# over reservoir seeds: units sr leak in bias ridge noise -> median [min, max] of NRMSE84")
        for config, values in by_config.items():
            print(f"# {' '.join(f'{c:g}' for c in config)} -> {statistics.median(values):.3e} "
                  f"[{min(values):.3e}, {max(values):.3e}] over {len(values)} seeds")


if __name__ == "__main__":
    main()
