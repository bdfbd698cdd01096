"""``rnnkit forecast``: forecasts of a trained forecaster as a CSV table and a PNG plot, with the baselines."""
from __future__ import annotations

import argparse

HELP = "forecast with a checkpoint of rnnkit train --task forecast: CSV table and PNG plot"
EXAMPLES = """Examples:
  rnnkit forecast runs/sunspots/checkpoint.pt                      # writes runs/sunspots/forecast.{csv,png}
  rnnkit forecast runs/sunspots/checkpoint.pt --split val --output runs/sunspots/val.csv --plot runs/sunspots/val.png
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

    from rnnkit.cli.parsing import fail, output_file
    from rnnkit.jobs import forecast as job
    from rnnkit.jobs import forecast_files, load_for
    from rnnkit.train import CheckpointError

    try:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("the plot needs matplotlib: pip install 'rnnkit[plot]'") from None
        here = Path(args.checkpoint).parent
        restored = job.restore(load_for(args.checkpoint, "forecast", "forecast"), args.checkpoint)
        torch.set_num_threads(1)
        output = output_file(args.output or here / "forecast.csv", ".csv")
        plot = output_file(args.plot or here / "forecast.png", ".png")
        result, series = job.predictions(restored, args.split, args.csv)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("forecast", str(exc))
    config, t = restored.config, restored.transforms
    future = job.beyond(restored.model, config, series.values, t["mean"], t["std"])  # (K,)
    labels = forecast_files.labels_of(series)
    forecast_files.write_table(output, result, labels, future)
    forecast_files.plot(plot, series, result, future, args.split, labels)
    for line in job.score_lines(result, args.split, config.season):
        print(line)
    print(f"beyond the end ({config.horizon} steps): " + ", ".join(f"{v:.2f}" for v in future))
    print(f"wrote {output} and {plot}")
    return 0
