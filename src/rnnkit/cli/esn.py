"""``rnnkit esn``: fit an echo state network on a series, print NRMSE, plot truth against prediction."""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass

import torch

from rnnkit.data.series import MISSING_POLICIES

HELP = "fit an echo state network on Mackey-Glass, NARMA10 or a CSV column; print NRMSE and plot"
TASKS = ("mackey-glass", "narma10", "csv")
EXAMPLES = """
Examples:
  rnnkit esn --task mackey-glass --units 400 --plot mg.png
  rnnkit esn --task narma10 --units 200 --leak-rate 0.3
  rnnkit esn --task csv --csv prices.csv --column close --generate 50
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("esn", help=HELP, description=HELP + "." + EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=TASKS, default="mackey-glass", help="data (default: mackey-glass)")
    p.add_argument("--csv", help="CSV file for --task csv")
    p.add_argument("--column", help="CSV column: header name or 0-based index (default: the last)")
    p.add_argument("--missing", choices=MISSING_POLICIES, default="reject",
                   help="missing CSV cells (empty, NaN, NA): reject with the row number, or fill by "
                        "interpolation (default: reject)")
    p.add_argument("--tau", type=float, default=17.0, help="Mackey-Glass delay (default: 17)")
    p.add_argument("--train", type=int, help="training steps (default: 3000 MG, 2000 NARMA, 70%% of a CSV)")
    p.add_argument("--test", type=int, help="test steps after training (default: 1000, rest of a CSV)")
    p.add_argument("--warmup", type=int, default=500, help="training steps that only settle the reservoir")
    p.add_argument("--generate", type=int, default=300, help="free-running steps after training (0: none)")
    p.add_argument("--units", type=int, default=400, help="reservoir units N")
    p.add_argument("--spectral-radius", type=float, default=1.0)
    p.add_argument("--leak-rate", type=float, default=0.8)
    p.add_argument("--input-scaling", type=float, default=0.1, help="W_in ~ U(-s, s), on the standardised series")
    p.add_argument("--bias-scaling", type=float, default=0.2)
    p.add_argument("--connectivity", type=float, default=0.1)
    p.add_argument("--storage", choices=("dense", "sparse"), default="dense")
    p.add_argument("--ridge", type=float, default=1e-11, help="ridge penalty alpha")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="esn.png", help="PNG to write (default: esn.png); 'none' to skip")
    return p


@dataclass(frozen=True)
class Task:
    """A task as the ESN sees it: inputs and targets, standardised, and where the test starts."""

    X: torch.Tensor  # (T, 1) inputs
    Y: torch.Tensor  # (T, 1) targets, Y[t] follows X[t]
    train: int  # first `train` steps fit the readout
    test: int  # the next `test` steps are scored one step ahead
    autonomous: bool  # Y[t] == X[t + 1]: closed-loop generation makes sense
    mean: float  # of the raw targets: outputs are shown in the original units
    std: float


def _task(args) -> Task:
    from rnnkit.data import mackey_glass, narma10, read_csv_series

    if args.task == "narma10":
        train, test = args.train or 2000, args.test or 1000
        u, y = narma10(train + test, seed=args.seed)
        m, s = float(y[:train].mean()), float(y[:train].std())
        return Task((u[:, None] - 0.25) / 0.144, (y[:, None] - m) / s, train, test, False, m, s)
    if args.task == "csv":
        if not args.csv:
            raise ValueError("--task csv needs --csv PATH")
        series = read_csv_series(args.csv, args.column, missing=args.missing)
        if len(series) < 20:
            raise ValueError(f"{args.csv!r}: expected at least 20 values in the column, got {len(series)}")
        train = args.train or int(0.7 * (len(series) - 1))
        test = args.test or len(series) - 1 - train
    else:
        train, test = args.train or 3000, args.test or 1000
        series = mackey_glass(train + test + 1, tau=args.tau, seed=args.seed)
    if train + test + 1 > len(series) or train < 1 or test < 1:
        raise ValueError(f"expected --train + --test + 1 <= {len(series)} values and both >= 1, "
                         f"got --train {train} --test {test}")
    m, s = float(series[:train].mean()), float(series[:train].std())
    if s == 0:
        raise ValueError("the training part of the series is constant; nothing to learn")
    z = ((series[:train + test + 1] - m) / s)[:, None]  # (T + 1, 1)
    return Task(z[:-1], z[1:], train, test, True, m, s)


def run(args: argparse.Namespace) -> int:
    from rnnkit.reservoir import ESN, ReservoirConfig, Ridge

    try:
        task = _task(args)
        if args.warmup >= task.train:
            raise ValueError(f"expected --warmup < --train ({task.train}), got {args.warmup}")
        config = ReservoirConfig(units=args.units, spectral_radius=args.spectral_radius, leak_rate=args.leak_rate,
                                 input_scaling=args.input_scaling, bias_scaling=args.bias_scaling,
                                 connectivity=args.connectivity, storage=args.storage, seed=args.seed)
        esn = ESN(config, Ridge(args.ridge))
    except (ValueError, TypeError) as e:
        print(f"rnnkit esn: error: {e}", file=sys.stderr)
        return 2
    n, end = task.train, task.train + task.test
    esn.fit(task.X[:n], task.Y[:n], warmup=args.warmup)
    generated = None
    if args.generate > 0 and task.autonomous:
        # Continues from the last training input: generated[k] stands for Y[n - 1 + k].
        generated = esn.generate(min(args.generate, task.test))[:, 0]  # (G,)
    pred = esn.predict(task.X[:end])[n:, 0]  # one step ahead on the test part, (test,)
    truth = task.Y[n:end, 0]
    to_units = lambda v: v * task.std + task.mean  # noqa: E731
    nrmse = _nrmse(to_units(pred), to_units(truth))
    print(f"task {args.task}: {args.units} units, trained on {n} steps (warm-up {args.warmup}), "
          f"tested on {task.test}")
    print(f"one-step NRMSE: {nrmse:.3e}")
    if generated is not None:
        g_truth = task.Y[n - 1:n - 1 + len(generated), 0]
        print(f"free-running NRMSE over {len(generated)} steps: {_nrmse(to_units(generated), to_units(g_truth)):.3e}")
    elif args.generate > 0:
        print(f"free-running generation skipped: {args.task} is input-driven (outputs are not next inputs)")
    if args.plot != "none":
        try:
            gen = None if generated is None else (to_units(task.Y[n - 1:n - 1 + len(generated), 0]),
                                                  to_units(generated))
            _plot(args.plot, to_units(truth), to_units(pred), gen, f"{args.task}, {args.units} units")
        except ImportError:
            print("rnnkit esn: error: plotting needs matplotlib: pip install 'rnnkit[plot]' (or --plot none)",
                  file=sys.stderr)
            return 2
        except OSError as e:
            print(f"rnnkit esn: error: cannot write the plot {args.plot!r}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"wrote {args.plot}")
    return 0


def _nrmse(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """RMSE divided by the truth's standard deviation (inf for a constant truth with an error)."""
    rmse = float((pred - truth).pow(2).mean().sqrt())
    std = float(truth.std()) if len(truth) > 1 else 0.0
    return rmse / std if std > 0 else (0.0 if rmse == 0 else math.inf)


def _plot(path: str, truth, pred, generated, title: str) -> None:
    """Test truth against one-step predictions; and (truth, generation) pairs when ``generated``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 2 if generated is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.2 * rows), squeeze=False)
    ax = axes[0, 0]
    ax.plot(truth.numpy(), label="truth", lw=1.5)
    ax.plot(pred.numpy(), "--", label="one-step prediction", lw=1)
    ax.set_title(f"{title}: test set, one step ahead")
    ax.legend(loc="upper right")
    if generated is not None:
        ax = axes[1, 0]
        g_truth, g_pred = generated
        ax.plot(g_truth.numpy(), label="truth", lw=1.5)
        ax.plot(g_pred.numpy(), "--", label="free-running generation", lw=1)
        ax.set_title("closed loop from the end of training: each output fed back as the next input")
        ax.legend(loc="upper right")
    axes[0, 0].set_xlabel("test time step")
    if generated is not None:
        axes[1, 0].set_xlabel("free-running step")
    fig.tight_layout()
    tmp = f"{path}.tmp"
    try:  # temp file + rename: a failed write leaves any earlier plot intact
        fig.savefig(tmp, dpi=100, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
