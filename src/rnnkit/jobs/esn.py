r"""``rnnkit esn``: an echo state network on Mackey-Glass, NARMA10 or a column of a CSV file.

Unlike the other jobs its model is not trained by the Trainer: the reservoir stays
fixed and the ridge read-out is fitted in closed form (:class:`rnnkit.reservoir.ESN`),
so there is no checkpoint to restore. The series is standardised with its training
part's mean and standard deviation; scores are in the series' own units:

.. math::  \mathrm{NRMSE} = \sqrt{\mathrm{mean}(\hat y - y)^2} \,/\, \mathrm{std}(y)

(``std`` with Bessel's correction), one step ahead on the test part and, where the
targets are the next inputs, free-running (each output fed back as the next input).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnkit._fields import check_fields, option
from rnnkit._write import atomic_write
from rnnkit.data.series import MISSING_POLICIES

NAME = "esn"
TASKS = ("mackey-glass", "narma10", "csv")


@dataclass(frozen=True)
class ESNJobConfig:
    """An ESN run: the series, the split, the reservoir and the read-out."""

    task: str = option("mackey-glass", "data", choices=TASKS)
    csv: str | None = option(None, "CSV file for --task csv")
    column: str | None = option(None, "CSV column: header name or 0-based index; none: the last column")
    missing: str = option("reject", "missing CSV cells (empty, NaN, NA): reject with the row number, or fill by "
                                    "interpolation", choices=MISSING_POLICIES)
    tau: float = option(17.0, "Mackey-Glass delay")
    train: int | None = option(None, "training steps; none: 3000 for Mackey-Glass, 2000 for NARMA10, 70% of a CSV",
                               minimum=1)
    test: int | None = option(None, "test steps after training; none: 1000, or the rest of a CSV", minimum=1)
    warmup: int = option(500, "training steps that only settle the reservoir", minimum=0)
    generate: int = option(300, "free-running steps after training (0: none)", minimum=0)
    units: int = option(400, "reservoir units N", minimum=1)
    spectral_radius: float = option(1.0, "spectral radius of the reservoir matrix")
    leak_rate: float = option(0.8, "leak rate a: h_t = (1 - a) h_(t-1) + a f(...)")
    input_scaling: float = option(0.1, "W_in ~ U(-s, s), on the standardised series")
    bias_scaling: float = option(0.2, "bias ~ U(-s, s)")
    connectivity: float = option(0.1, "share of nonzero reservoir weights")
    storage: str = option("dense", "reservoir matrix storage", choices=("dense", "sparse"))
    ridge: float = option(1e-11, "ridge penalty alpha")
    seed: int = option(0, "seed of the reservoir and of the generated series")

    def __post_init__(self) -> None:
        check_fields(self)


Config = ESNJobConfig


@dataclass(frozen=True)
class Series:
    """A task as the ESN sees it: inputs and targets, standardised, and where the test starts."""

    X: torch.Tensor  # (T, 1) inputs
    Y: torch.Tensor  # (T, 1) targets, Y[t] follows X[t]
    train: int  # first `train` steps fit the readout
    test: int  # the next `test` steps are scored one step ahead
    autonomous: bool  # Y[t] == X[t + 1]: closed-loop generation makes sense
    mean: float  # of the raw targets: outputs are shown in the original units
    std: float

    def units(self, values: torch.Tensor) -> torch.Tensor:
        """Standardised values back in the series' own units."""
        return values * self.std + self.mean


def load(config: ESNJobConfig) -> Series:
    """The configured series, split and standardised (ValueError with one line if it cannot be)."""
    from rnnkit.data import mackey_glass, narma10, read_csv_series

    if config.task == "narma10":
        train, test = config.train or 2000, config.test or 1000
        u, y = narma10(train + test, seed=config.seed)
        m, s = float(y[:train].mean()), float(y[:train].std())
        return Series((u[:, None] - 0.25) / 0.144, (y[:, None] - m) / s, train, test, False, m, s)
    if config.task == "csv":
        if not config.csv:
            raise ValueError("--task csv needs --csv PATH")
        series = read_csv_series(config.csv, config.column, missing=config.missing)
        if len(series) < 20:
            raise ValueError(f"{config.csv!r}: expected at least 20 values in the column, got {len(series)}")
        train = config.train or int(0.7 * (len(series) - 1))
        test = config.test or len(series) - 1 - train
    else:
        train, test = config.train or 3000, config.test or 1000
        series = mackey_glass(train + test + 1, tau=config.tau, seed=config.seed)
    if train + test + 1 > len(series) or train < 1 or test < 1:
        raise ValueError(f"expected --train + --test + 1 <= {len(series)} values and both >= 1, "
                         f"got --train {train} --test {test}")
    m, s = float(series[:train].mean()), float(series[:train].std())
    if s == 0:
        raise ValueError("the training part of the series is constant; nothing to learn")
    z = ((series[:train + test + 1] - m) / s)[:, None]  # (T + 1, 1)
    return Series(z[:-1], z[1:], train, test, True, m, s)


def build(config: ESNJobConfig):
    """``(series, esn)``: the data and an unfitted ESN (ValueError/TypeError naming a bad setting)."""
    from rnnkit.reservoir import ESN, ReservoirConfig, Ridge

    series = load(config)
    if config.warmup >= series.train:
        raise ValueError(f"expected --warmup < --train ({series.train}), got {config.warmup}")
    reservoir = ReservoirConfig(units=config.units, spectral_radius=config.spectral_radius, leak_rate=config.leak_rate,
                                input_scaling=config.input_scaling, bias_scaling=config.bias_scaling,
                                connectivity=config.connectivity, storage=config.storage, seed=config.seed)
    return series, ESN(reservoir, Ridge(config.ridge))


@dataclass(frozen=True)
class Fitted:
    """Test truth and predictions in the series' units; the free run beside its truth (or None)."""

    truth: torch.Tensor  # (test,)
    predicted: torch.Tensor  # (test,) one step ahead
    generated: tuple | None  # (truth (G,), generated (G,)) or None


def fit(config: ESNJobConfig, series: Series, esn) -> Fitted:
    """Fit the read-out on the training part, predict the test part, and free-run where that makes sense."""
    n, end = series.train, series.train + series.test
    esn.fit(series.X[:n], series.Y[:n], warmup=config.warmup)
    generated = None
    if config.generate > 0 and series.autonomous:
        # Continues from the last training input: run[k] stands for Y[n - 1 + k].
        run = esn.generate(min(config.generate, series.test))[:, 0]  # (G,)
        generated = (series.units(series.Y[n - 1:n - 1 + len(run), 0]), series.units(run))
    predicted = esn.predict(series.X[:end])[n:, 0]  # one step ahead on the test part, (test,)
    return Fitted(series.units(series.Y[n:end, 0]), series.units(predicted), generated)


def nrmse(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """RMSE divided by the truth's standard deviation (inf for a constant truth with an error)."""
    rmse = float((pred - truth).pow(2).mean().sqrt())
    std = float(truth.std()) if len(truth) > 1 else 0.0
    return rmse / std if std > 0 else (0.0 if rmse == 0 else math.inf)


def report(config: ESNJobConfig, series: Series, fitted: Fitted) -> list[str]:
    lines = [f"task {config.task}: {config.units} units, trained on {series.train} steps (warm-up {config.warmup}), "
             f"tested on {series.test}", f"one-step NRMSE: {nrmse(fitted.predicted, fitted.truth):.3e}"]
    if fitted.generated is not None:
        truth, run = fitted.generated
        lines.append(f"free-running NRMSE over {len(run)} steps: {nrmse(run, truth):.3e}")
    elif config.generate > 0:
        lines.append(f"free-running generation skipped: {config.task} is input-driven (outputs are not next inputs)")
    return lines


def plot(path, fitted: Fitted, title: str, zoom: int = 200) -> None:
    """Truth against prediction, and prediction - truth, one step ahead and free-running (PNG).

    The value panels show the first ``zoom`` test steps, where the two curves can be
    told apart; the error panels the whole test (signed, linear) and the whole free run
    (``|prediction - truth|`` on a log axis, since a closed loop's error grows by decades).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [("one step ahead", "test step", fitted.truth, fitted.predicted)]
    if fitted.generated is not None:
        runs.append(("free-running (closed loop from the end of training)", "free-running step", *fitted.generated))
    fig, axes = plt.subplots(2 * len(runs), 1, figsize=(10, 2.6 * 2 * len(runs)), layout="constrained")
    outside = dict(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    for r, (name, xlabel, truth, pred) in enumerate(runs):
        values, error = axes[2 * r], axes[2 * r + 1]
        shown = len(truth) if r else min(zoom, len(truth))  # a free run is short enough to show whole
        values.plot(truth[:shown].numpy(), color="black", lw=2.2, alpha=0.35, label="truth")
        values.plot(pred[:shown].numpy(), color="tab:red", lw=1, ls="--", label="prediction")
        values.set_title(f"{title}: {name}" + (f", the first {shown} of {len(truth)} steps" if shown < len(truth)
                                                 else f", {len(truth)} steps"), fontsize=10)
        values.set_xlabel(xlabel)
        values.set_ylabel("value (series units)")
        values.legend(**outside)
        diff = (pred - truth).numpy()
        spread = float(truth[:shown].max() - truth[:shown].min())
        if abs(diff[:shown]).max() < 0.005 * spread:  # closer than the line width: say so, point to the error
            values.text(1.01, 0.55, f"max |prediction - truth|\nhere: {abs(diff[:shown]).max():.1e},\ntoo small to "
                        "see:\nthe error is plotted below", transform=values.transAxes, fontsize=8, va="top")
        score = f"(NRMSE {nrmse(pred, truth):.3e})"
        if r:
            error.semilogy(abs(diff), color="tab:red", lw=1, label=f"|prediction - truth|\n{score}")
            error.set_ylabel("|prediction - truth|\n(log scale)")
        else:
            error.plot(diff, color="tab:red", lw=0.8, label=f"prediction - truth\n{score}")
            error.axhline(0, color="black", lw=0.6)
            if shown < len(truth):
                error.axvspan(0, shown - 1, color="0.9", zorder=0, label="steps shown above")
            error.set_ylabel("prediction - truth")
        error.set_title(f"error, {name}, all {len(truth)} steps", fontsize=10)
        error.set_xlabel(xlabel)
        error.grid(True, alpha=0.3)
        error.legend(**outside)
    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    finally:
        plt.close(fig)
