"""What ``rnnkit forecast`` writes: the table of forecasts (CSV) and its plot (PNG).

The table has one row per origin and step ahead (the truth, the model's forecast and
both baselines), then the forecast beyond the last value with an empty truth. The plot
shows the history, the truth on the chosen split, the one-step-ahead forecasts, the
naive baseline and the forecast beyond the end. Both are written atomically.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from rnnkit._write import atomic_write
from rnnkit.data.series import Series

HEADER = ["origin", "step", "target", "truth", "forecast", "naive", "seasonal_naive"]


def labels_of(series: Series) -> list[str]:
    """The label of every value: its date, or its index when the series has no date column."""
    return list(series.dates) if series.dates else [str(i) for i in range(series.values.size)]


def write_table(path, result: dict, labels: list[str], future: np.ndarray) -> Path:
    """The forecasts of every origin and step, then the ones beyond the end, as CSV."""
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(HEADER)
    for i, o in enumerate(result["origins"]):
        for k in range(result["truth"].shape[1]):
            out.writerow([labels[o], k + 1, labels[o + k], f"{result['truth'][i, k]:.6g}",
                          f"{result['model'][i, k]:.6g}", f"{result['naive'][i, k]:.6g}",
                          f"{result['seasonal'][i, k]:.6g}"])
    for k, value in enumerate(future):
        out.writerow(["end", k + 1, f"+{k + 1}", "", f"{value:.6g}", "", ""])
    return atomic_write(path, text.getvalue())


def plot(path, series: Series, result: dict, future: np.ndarray, split: str, labels: list[str]) -> Path:
    """History, truth, one-step forecasts, the naive baseline and the forecast beyond the end (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
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
    try:
        return atomic_write(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    finally:
        plt.close(fig)
