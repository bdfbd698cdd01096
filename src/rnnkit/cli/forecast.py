"""``rnnkit forecast``: forecasts of a trained forecaster as a CSV table and a PNG plot, with the baselines."""
from __future__ import annotations

import argparse

HELP = "forecast with a checkpoint of rnnkit train --task forecast: CSV table and PNG plot"
EXAMPLES = """Examples:
  rnnkit forecast runs/sunspots/checkpoint.pt                      # writes runs/sunspots/forecast.{csv,png}
  rnnkit forecast runs/sunspots/checkpoint.pt --split val --output val.csv --plot val.png
  rnnkit forecast runs/sales/checkpoint.pt --csv sales-2025.csv    # same columns, newer data

For every origin of the chosen split (the first forecast point of each window inside
it) the table holds the truth, the model's forecast and the naive and seasonal-naive
baselines for each step ahead, then the forecast beyond the last value (truth empty).
MAE, RMSE and NRMSE of the model and both baselines are printed. The plot shows the
history, the truth, the one-step-ahead forecasts and the forecast beyond the end.
Nothing is written when an input is refused."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("forecast", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt written by rnnkit train --task forecast")
    parser.add_argument("--csv", default=None,
                        help="the series to forecast (default: the one it was trained on; same column names)")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="which origins (default: test)")
    parser.add_argument("--output", default=None, help="CSV table to write (default: next to the checkpoint, "
                                                       "forecast.csv)")
    parser.add_argument("--plot", default=None, help="PNG plot to write (default: next to the checkpoint, "
                                                     "forecast.png)")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from rnnkit.cli.train import fail
    from rnnkit.models import jobs
    from rnnkit.models.jobs import forecast as job
    from rnnkit.train import CheckpointError

    try:
        try:
            import matplotlib
        except ImportError:
            raise ValueError("the plot needs matplotlib: pip install 'rnnkit[plot]'") from None
        ckpt = jobs.load_for(args.checkpoint, "forecast", "forecast")
        config, mean, std, model = job.restore(ckpt, args.checkpoint)
        series = job.load_series(config, args.csv)
        task = job.make_task(config, series.values, mean, std)
        here = Path(args.checkpoint).parent
        output = Path(args.output) if args.output else here / "forecast.csv"
        plot = Path(args.plot) if args.plot else here / "forecast.png"
        for path in (output, plot):
            if path.is_dir():
                raise ValueError(f"output {path} is a directory, expected a file name")
            if not path.parent.is_dir():
                raise ValueError(f"output directory {path.parent} does not exist")
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("forecast", str(exc))
    torch.set_num_threads(1)
    result = job.forecasts(model, task, args.split, series.values, mean, std, config)
    future = job.beyond(model, config, series.values, mean, std)  # (K,)
    labels = list(series.dates) if series.dates else [str(i) for i in range(series.values.size)]
    _write_table(output, result, labels, future, series.values.size)
    matplotlib.use("Agg")
    _plot(plot, series, result, future, args.split, labels)
    for line in job.score_lines(result, args.split, config.season):
        print(line)
    print(f"beyond the end ({config.horizon} steps): " + ", ".join(f"{v:.2f}" for v in future))
    print(f"wrote {output} and {plot}")
    return 0


def _write_table(path, result, labels, future, n) -> None:
    import csv
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["origin", "step", "target", "truth", "forecast", "naive", "seasonal_naive"])
        for i, o in enumerate(result["origins"]):
            for k in range(result["truth"].shape[1]):
                out.writerow([labels[o], k + 1, labels[o + k], f"{result['truth'][i, k]:.6g}",
                              f"{result['model'][i, k]:.6g}", f"{result['naive'][i, k]:.6g}",
                              f"{result['seasonal'][i, k]:.6g}"])
        for k, value in enumerate(future):
            out.writerow(["end", k + 1, f"+{k + 1}", "", f"{value:.6g}", "", ""])
    os.replace(tmp, path)


def _plot(path, series, result, future, split, labels) -> None:
    import numpy as np
    from matplotlib import pyplot as plt

    try:
        x = np.array([float(v) for v in labels])
    except ValueError:
        x = np.arange(len(labels), dtype=float)
    step = x[1] - x[0] if x.size > 1 else 1.0
    o = result["origins"]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(x, series.values, color="0.6", lw=1, label="history")
    ax.plot(x[o], result["truth"][:, 0], color="black", lw=1.5, label=f"truth ({split})")
    ax.plot(x[o], result["model"][:, 0], color="tab:blue", lw=1.5, label="forecast, 1 step ahead")
    ax.plot(x[o], result["naive"][:, 0], color="tab:orange", lw=1, ls=":", label="naive (last value)")
    ahead = x[-1] + step * np.arange(1, future.size + 1)
    ax.plot(ahead, future, color="tab:red", lw=1.5, ls="--", marker="o", ms=3, label="forecast beyond the end")
    ax.set_xlabel("date" if series.dates else "step")
    ax.set_ylabel(series.name)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
