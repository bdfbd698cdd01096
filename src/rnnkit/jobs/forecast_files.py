"""What ``rnnkit forecast`` writes: the table of forecasts (CSV) and its plot (PNG).

The table has one row per origin and step ahead, origin by origin, then the K rows of
the forecast beyond the last value (truth, naive and seasonal naive empty). Its columns:

===============  ===================================================================
last_observed    the label (date) of the last value the forecast was made from
step             k = 1..K, steps ahead of ``last_observed``
target           the label of the value forecast (``step`` values after ``last_observed``);
                 beyond the end: extrapolated for integer-spaced labels (years, row
                 numbers), else ``+k``
truth            the value at ``target``
forecast         the model's forecast of it
naive            the value at ``last_observed`` (the last-value baseline)
seasonal_naive   the value a whole number of seasons before ``target``
===============  ===================================================================

The plot has two panels on one time axis. Top: the series over the chosen split's
origins and some history before them, the model's one-step-ahead forecasts, the naive
baseline, and the forecast beyond the end when the split reaches the end of the series.
Bottom: the one-step-ahead error (forecast - truth) at every origin of the model and
both baselines, with each one's RMSE over all origins and steps (the printed table's).
Both files are written atomically.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from rnnkit._write import atomic_write
from rnnkit.data.series import Series
from rnnkit.models.forecaster import errors

HEADER = ["last_observed", "step", "target", "truth", "forecast", "naive", "seasonal_naive"]


def labels_of(series: Series) -> list[str]:
    """The label of every value: its date, or its index when the series has no date column."""
    return list(series.dates) if series.dates else [str(i) for i in range(series.values.size)]


def _numeric(labels: list[str]) -> np.ndarray | None:
    """The labels as numbers ``(N,)``, or None when one is not a number."""
    try:
        return np.array([float(v) for v in labels])
    except ValueError:
        return None


def _integer_spaced(x: np.ndarray | None) -> bool:
    """Whole numbers one apart (years, row numbers)."""
    return x is not None and bool(np.all(x == np.round(x))) and bool(np.all(np.diff(x) == 1))


def labels_beyond(labels: list[str], horizon: int) -> list[str]:
    """The labels of the K values after the last one: extrapolated years / row numbers, else ``+k``."""
    x = _numeric(labels)
    if _integer_spaced(x):
        return [str(int(x[-1]) + k) for k in range(1, horizon + 1)]
    return [f"+{k}" for k in range(1, horizon + 1)]


def write_table(path, result: dict, labels: list[str], future: np.ndarray) -> Path:
    """The forecasts of every origin and step, then the ones beyond the end, as CSV (columns: module docs)."""
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(HEADER)
    for i, o in enumerate(result["origins"]):  # o: index of the first forecast value, o - 1 the last observed
        for k in range(result["truth"].shape[1]):
            out.writerow([labels[o - 1], k + 1, labels[o + k], f"{result['truth'][i, k]:.6g}",
                          f"{result['model'][i, k]:.6g}", f"{result['naive'][i, k]:.6g}",
                          f"{result['seasonal'][i, k]:.6g}"])
    for k, (target, value) in enumerate(zip(labels_beyond(labels, future.size), future)):
        out.writerow([labels[-1], k + 1, target, "", f"{value:.6g}", "", ""])
    return atomic_write(path, text.getvalue())


def time_axis(series: Series, labels: list[str]) -> tuple[np.ndarray, str]:
    """The x value of every label ``(N,)`` and the axis label: "year", "date" or "row of the series"."""
    x = _numeric(labels)
    if x is None:
        return np.arange(len(labels), dtype=float), "date"
    if not series.dates:
        return x, "row of the series"
    return x, "year" if _integer_spaced(x) else "date"


def window(n_values: int, origins: np.ndarray, horizon: int, season: int | None = None) -> tuple[int, int]:
    """Indices ``[first, last]`` the plot shows: the split's targets and history before them.

    The history is 3 seasons when ``season`` is given, else as long as the split itself.
    """
    last = int(origins[-1]) + horizon - 1
    history = 3 * season if season else last - int(origins[0]) + 1
    return max(0, int(origins[0]) - history), min(n_values - 1, last)


def plot(path, series: Series, result: dict, future: np.ndarray, split: str, labels: list[str],
         season: int | None = None) -> Path:
    """The split's one-step forecasts over recent history, and their errors beside the baselines' (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    x, xlabel = time_axis(series, labels)
    o, truth = result["origins"], result["truth"]
    n, horizon = truth.shape
    first, last = window(series.values.size, o, horizon, season)
    step = x[1] - x[0] if x.size > 1 else 1.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.2), sharex=True, height_ratios=(2, 1),
                                      layout="constrained")
    span = (x[o[0]] - step / 2, x[o[-1] + horizon - 1] + step / 2)
    for ax in (top, bottom):
        ax.axvspan(*span, color="0.93", zorder=0)
        ax.grid(True, alpha=0.3)
    before = slice(first, o[0] + 1)
    top.plot(x[before], series.values[before], color="0.55", lw=1, label="history (not forecast)")
    inside = slice(o[0], last + 1)
    top.plot(x[inside], series.values[inside], color="black", lw=1.6, marker=".", ms=4, label=f"truth ({split} split)")
    top.plot(x[o], result["model"][:, 0], color="tab:blue", lw=1.4, label="model, 1 step ahead")
    top.plot(x[o], result["naive"][:, 0], color="tab:orange", lw=1, ls=":", label="naive (last value)")
    if last == series.values.size - 1:  # the split reaches the end: the forecast beyond it is in view
        ahead = x[-1] + step * np.arange(1, future.size + 1)
        top.plot(np.r_[x[-1], ahead], np.r_[series.values[-1], future], color="tab:red", lw=1.4, ls="--",
                 marker="o", ms=3, label=f"model beyond the end ({future.size} steps)")
    top.set_ylabel(series.name)
    top.set_title(f"{series.name}, {split} split (shaded: {labels[o[0]]} to {labels[last]}): "
                  f"forecasts 1 step ahead from {n} origins", fontsize=10)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    bottom.axhline(0, color="black", lw=0.8)
    for key, label, style in (("model", "model", dict(color="tab:blue", lw=1.4, marker=".", ms=4)),
                              ("naive", "naive (last value)", dict(color="tab:orange", lw=1, ls=":")),
                              ("seasonal", "seasonal naive", dict(color="tab:green", lw=1, ls="--"))):
        rmse = errors(result[key], truth)["rmse"]
        bottom.plot(x[o], result[key][:, 0] - truth[:, 0], label=f"{label}\n(RMSE {rmse:.4g}, all {horizon} steps)",
                    **style)
    bottom.set_ylabel(f"forecast - truth\n({series.name}, 1 step ahead)")
    bottom.set_xlabel(xlabel)
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    right = x[-1] + step * future.size if last == series.values.size - 1 else x[last]
    bottom.set_xlim(x[first] - step, right + step)
    if _numeric(labels) is None:  # text dates: a few of them as tick labels
        ticks = np.unique(np.linspace(first, last, 7).round().astype(int))
        bottom.set_xticks(ticks.astype(float), [labels[t] for t in ticks])
    try:
        return atomic_write(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    finally:
        plt.close(fig)
