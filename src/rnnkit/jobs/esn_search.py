"""``rnnkit esn --search``: a grid of reservoirs searched on the training part, the best refitted and tested.

The series is the ESN job's (:func:`rnnkit.jobs.esn.load`). The search fits on the first
80 % of the training steps and scores one-step NRMSE on the last 20 %
(:func:`rnnkit.reservoir.search.search`, every reservoir driven together); the test steps
stay unseen until the best configuration, refitted on all training steps, is scored on
them beside the untuned configuration (the job's defaults). Every configuration also gets
its echo-state check and short-term memory capacity. Written: the
ranked table (CSV), a heatmap of the validation NRMSE over the two axes that move it
most (PNG), and the best configuration (JSON) with its readout (tensors only).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from rnnkit._write import atomic_write
from rnnkit.jobs import esn as job

GRID_FIELDS = ("spectral_radius", "leak_rate", "input_scaling", "ridge")  # flags that take a grid with --search


def grid_values(name: str, text) -> tuple[float, ...]:
    """``"a:b:n"`` (n evenly spaced values from a to b), ``"v1,v2,..."`` or one number -> the values."""
    flag = "--" + name.replace("_", "-")
    text = str(text).strip()
    try:
        if ":" in text:
            low, high, count = text.split(":")
            n = int(count)
            if n < 1:
                raise ValueError
            values = [float(low)] if n == 1 else [float(low) + (float(high) - float(low)) * k / (n - 1)
                                                  for k in range(n)]
        else:
            values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag}: expected a number, a list 'v1,v2,...' or a range 'low:high:count', "
                         f"got {text!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{flag}: expected finite values, got {text!r}")
    return tuple(round(v, 12) for v in values)


@dataclass(frozen=True)
class SearchReport:
    result: object  # the SearchResult
    config: job.ESNJobConfig  # the untuned run: the series, the split and the defaults of the searched fields
    series: object  # the job's Series (the reservoir seeds searched never change it)
    best_esn: object  # the best configuration's ESN, fitted on all training steps
    test_best: float  # its test one-step NRMSE
    test_default: float  # the same for the untuned configuration
    axes: tuple  # the two axes of the heatmap (or one)


def run_search(config: job.ESNJobConfig, grids: dict, seeds: int, progress=None) -> SearchReport:
    """Search ``grids`` (GRID_FIELDS -> values) over ``seeds`` reservoir seeds from ``config.seed``."""
    from rnnkit.reservoir import ReservoirConfig
    from rnnkit.reservoir.search import search

    series = job.load(config)
    n = series.train
    fit_steps = int(0.8 * n)
    if config.warmup >= fit_steps:
        raise ValueError(f"expected --warmup < 80 % of --train ({fit_steps}) for the search's fitting part, "
                         f"got {config.warmup}")
    base = ReservoirConfig(units=config.units, bias_scaling=config.bias_scaling, connectivity=config.connectivity,
                           storage=config.storage)
    result = search(series.X[:n], series.Y[:n], spectral_radius=grids["spectral_radius"],
                    leak_rate=grids["leak_rate"], input_scaling=grids["input_scaling"], ridge=grids["ridge"],
                    seeds=[config.seed + k for k in range(seeds)], base=base, train=fit_steps,
                    warmup=config.warmup, echo_state_check=True, memory_capacity=True, progress=progress)
    from rnnkit.reservoir import ESN, Ridge

    best = ESN(result.config(), Ridge(result.best["ridge"]))
    test_best = _test_nrmse(config, series, best)  # fits it on all training steps
    _, untuned = job.build(config)
    return SearchReport(result, config, series, best, test_best, _test_nrmse(config, series, untuned),
                        important_axes(result))


def _test_nrmse(config: job.ESNJobConfig, series, esn) -> float:
    fitted = job.fit(replace(config, generate=0), series, esn)  # fits on all training steps, predicts the test
    return job.nrmse(fitted.predicted, fitted.truth)


def summary(report: SearchReport, reservoirs: int) -> list[str]:
    """The lines ``rnnkit esn --search`` prints: the best, its test score beside the untuned one, ESP failures."""
    best, config = report.result.best, report.config
    lines = [f"best: spectral radius {best['spectral_radius']:g}, leak rate {best['leak_rate']:g}, input scaling "
             f"{best['input_scaling']:g}, ridge {best['ridge']:g}, seed {best['seed']}: validation NRMSE "
             f"{best['val_nrmse']:.4g}",
             f"test one-step NRMSE, refitted on all training steps: best {report.test_best:.4g}, untuned (the "
             f"defaults: spectral radius {config.spectral_radius:g}, leak rate {config.leak_rate:g}, input scaling "
             f"{config.input_scaling:g}, ridge {config.ridge:g}) {report.test_default:.4g}"]
    lines.append(f"memory capacity of the best reservoir: {best['memory_capacity']:.1f} (of at most {config.units}; "
                 "every configuration's in the table)")
    ridges = len(report.result.grid["ridge"])
    failing = sum(1 for r in report.result.rows if r.get("esp_distance", 0) >= 1e-6) // ridges
    if failing:
        lines.append(f"{failing} of {reservoirs} reservoirs keep self-sustained activity (no echo state property: "
                     "esp_distance >= 1e-6 in the table)")
    return lines


def important_axes(result) -> tuple:
    """The (at most) two searched axes along which the best reachable validation NRMSE moves most."""
    spread = {}
    for axis, values in result.grid.items():
        if len(values) < 2:
            continue
        best = [min(r["val_nrmse"] for r in result.rows if r[axis] == v) for v in values]
        finite = [b for b in best if math.isfinite(b) and b > 0]
        spread[axis] = max(finite) / min(finite) if finite else 0.0
    return tuple(sorted(spread, key=spread.get, reverse=True)[:2])


def write(report: SearchReport, out: Path) -> list[Path]:
    """The CSV table, the heatmap PNG (when matplotlib is installed) and the best configuration."""
    out.mkdir(parents=True, exist_ok=True)
    rows = report.result.rows
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["rank", *rows[0]])
    writer.writeheader()
    for rank, row in enumerate(rows, 1):
        writer.writerow({"rank": rank, **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}})
    written = [atomic_write(out / "search.csv", text.getvalue())]
    esn, series, config = report.best_esn, report.series, report.config
    buffer = io.BytesIO()
    torch.save({"weight": esn.readout.weight, "bias": esn.readout.bias}, buffer)
    written.append(atomic_write(out / "best_readout.pt", buffer.getvalue()))
    best = {"reservoir": asdict(report.result.config()), "ridge": report.result.best["ridge"],
            "validation_nrmse": report.result.best["val_nrmse"], "test_nrmse": report.test_best,
            "task": config.task, "series_seed": config.seed, "train": series.train, "warmup": config.warmup}
    written.append(atomic_write(out / "best.json", json.dumps(best, indent=1) + "\n"))
    try:
        written.append(heatmap(report, out / "search.png"))
    except ImportError:
        pass
    return written


def heatmap(report: SearchReport, path: Path) -> Path:
    """log10 validation NRMSE, best over the other axes, on the two most important axes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, axes = report.result.rows, report.axes
    if len(axes) < 2:
        axes = (axes[0] if axes else "spectral_radius", next(a for a in report.result.grid if a not in axes))
    xs, ys = report.result.grid[axes[0]], report.result.grid[axes[1]]
    grid = torch.full((len(ys), len(xs)), math.nan, dtype=torch.float64)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            found = [r["val_nrmse"] for r in rows if r[axes[0]] == x and r[axes[1]] == y]
            grid[i, j] = math.log10(min(found)) if found and min(found) > 0 else math.nan
    fig, ax = plt.subplots(figsize=(6, 4.5))
    image = ax.imshow(grid.numpy(), origin="lower", aspect="auto", cmap="viridis_r")
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
    ax.set_xlabel(axes[0].replace("_", " "))
    ax.set_ylabel(axes[1].replace("_", " "))
    ax.set_title("validation NRMSE (log10), best over the other axes")
    fig.colorbar(image, ax=ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, buffer.getvalue())
