"""``--task forecast``: multi-step forecasting of the bundled sunspots or a column of any CSV file.

The series is normalised with the training part's mean and standard deviation, which
are stored in the checkpoint. After training it reports test MAE, RMSE and NRMSE in the
series' own units beside the naive (last value) and seasonal-naive baselines, over
every test origin and every step of the horizon.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnkit._fields import check_fields, option
from rnnkit.data.datasets import sunspots_csv
from rnnkit.data.series import MISSING_POLICIES, ForecastTask, Series, read_series
from rnnkit.jobs.base import (Built, EvalOptions, Restored, cell_option, checkpoint_fields, engine_option,
                              init_option, load_weights, restore_config)
from rnnkit.models.forecaster import MODES, Forecaster, errors, naive, seasonal_naive, truths
from rnnkit.train.checkpoint import CheckpointError

NAME = "forecast"
BUNDLED_SERIES = "sunspots"
TRANSFORMS = ("none", "sqrt")
TRAIN_DEFAULTS = {"steps": 1500, "lr": 0.005, "eval_every": 100, "eval_batches": 1, "checkpoint_every": 500}


@dataclass(frozen=True)
class ForecastConfig:
    """A forecasting run: the series, the window and horizon, the model."""

    csv: str = option(BUNDLED_SERIES, "forecast: a CSV file, or \"sunspots\" for the bundled yearly series 1700-2008")
    column: str = option("", "forecast: the value column (header name or 0-based index); \"\" = the last column")
    date_column: str = option("", "forecast: a date/label column for the output CSV and plot (\"\" = none; sunspots: YEAR)")
    missing: str = option("reject", "forecast: a missing value is \"reject\"ed (naming its row) or \"fill\"ed by interpolation",
                          choices=MISSING_POLICIES)
    length: int = option(24, "T: the input window, in steps of the series", minimum=1)
    horizon: int = option(2, "forecast: K, steps forecast from each window", minimum=1)
    mode: str = option("direct", "forecast: \"direct\" (all K at once) or \"autoregressive\" (one step, fed back)",
                       choices=MODES)
    season: int = option(11, "forecast: the seasonal-naive baseline's period (sunspots: the 11-year cycle)", minimum=1)
    transform: str = option("none", "forecast: \"none\" or \"sqrt\" (model sqrt(max(s, 0)); forecasts are squared back)",
                            choices=TRANSFORMS)
    val_fraction: float = option(0.15, "forecast: the part of the series before the test part used for validation")
    test_fraction: float = option(0.15, "forecast: the last part of the series, whose values are forecast in the test")
    batch_size: int = option(32, "windows per batch", minimum=1)
    data_seed: int = option(0, "seed of the windows' positions", minimum=0)
    cell: str = cell_option()
    hidden_size: int = option(32, "H", minimum=1)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1)
    engine: str = engine_option()
    init: str = init_option()

    def __post_init__(self) -> None:
        check_fields(self)


Config = ForecastConfig


def load_series(config: ForecastConfig, csv: str | None = None) -> Series:
    """The configured series (or the one in ``csv``), read with the config's column and missing policy."""
    path = config.csv if csv is None else csv
    if path == BUNDLED_SERIES:
        return read_series("sunspots (bundled)", config.column or "SUNACTIVITY", config.date_column or "YEAR",
                           config.missing, text=sunspots_csv())
    return read_series(path, config.column, config.date_column, config.missing)


def make_model(config: ForecastConfig) -> Forecaster:
    return Forecaster(1, config.hidden_size, config.horizon, config.num_layers, cell=config.cell, mode=config.mode,
                      engine=config.engine, init=None if config.init == "default" else config.init)


def forward_transform(config: ForecastConfig, values: np.ndarray) -> np.ndarray:
    """The series as the model sees it before normalisation."""
    return np.sqrt(np.maximum(values, 0.0)) if config.transform == "sqrt" else values


def inverse_transform(config: ForecastConfig, values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0) ** 2 if config.transform == "sqrt" else values


def make_task(config: ForecastConfig, values: np.ndarray, mean: float, std: float) -> ForecastTask:
    """Windows of z = (f(s) - mean) / std, f the transform; mean and std are of f(s) on the training part."""
    z = torch.tensor((forward_transform(config, values) - mean) / std, dtype=torch.float32)
    return ForecastTask(z, config.length, config.horizon, config.batch_size, config.data_seed,
                        config.val_fraction, config.test_fraction)


def build(config: ForecastConfig) -> Built:
    """Read the series, fit the normalisation on its training part, cut windows, build the model."""
    series = load_series(config)
    n = series.values.size
    n_train = n - round(n * config.val_fraction) - round(n * config.test_fraction)
    if n_train < 2:
        raise ValueError(f"the series has {n} values, too short for window {config.length} + horizon "
                         f"{config.horizon}")
    seen = forward_transform(config, series.values[:n_train])
    mean, std = float(seen.mean()), float(seen.std())
    std = std if std > 0 else 1.0
    task = make_task(config, series.values, mean, std)
    run_fields = checkpoint_fields(config, task_mean=mean, task_std=std, task_series=series.name,
                                   model_cell=config.cell, model_hidden_size=config.hidden_size,
                                   model_num_layers=config.num_layers, model_horizon=config.horizon,
                                   model_mode=config.mode)
    return Built(config, task, make_model(config), run_fields, {"series": series})


def restore(ckpt: dict, path) -> Restored:
    """The model and the normalisation (``transforms["mean"]``, ``["std"]``) from a ``forecast`` checkpoint."""
    config = restore_config(ForecastConfig, NAME, ckpt, path)
    try:
        transforms = {"mean": float(ckpt["config"]["task_mean"]), "std": float(ckpt["config"]["task_std"])}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks the series normalisation: {exc}") from None
    model = make_model(config)
    load_weights(model, ckpt, path)
    return Restored(config, model, transforms, int(ckpt.get("step", 0)))


def forecasts(model: Forecaster, task: ForecastTask, split: str, values: np.ndarray, mean: float, std: float,
              config: ForecastConfig) -> dict:
    """Origins ``(n,)`` and truth / model / naive / seasonal forecasts ``(n, K)`` in the series' units."""
    origins = task.origins(split)
    model.eval()
    x = task.batch(split, 0).x  # (W, n, 1)
    predicted = inverse_transform(config, model.forecast(x).double().numpy() * std + mean)  # (n, K)
    o = origins.numpy()
    return {"origins": o, "truth": truths(values, o, task.horizon), "model": predicted,
            "naive": naive(values, o, task.horizon), "seasonal": seasonal_naive(values, o, task.horizon, config.season)}


def beyond(model: Forecaster, config: ForecastConfig, values: np.ndarray, mean: float, std: float) -> np.ndarray:
    """The K values after the end of the series, ``(K,)``, in the series' units."""
    z = (forward_transform(config, values[-config.length:]) - mean) / std
    x = torch.tensor(z, dtype=torch.float32)[:, None, None]  # (W, 1, 1)
    return inverse_transform(config, model.forecast(x)[0].double().numpy() * std + mean)


def score_lines(result: dict, split: str, season: int) -> list[str]:
    """A small table: MAE, RMSE, NRMSE of the model and both baselines."""
    n, k = result["truth"].shape
    lines = [f"{split}: {n} origins x {k} steps ahead", f"  {'':<22}{'MAE':>10}{'RMSE':>10}{'NRMSE':>8}"]
    for key, label in (("model", "model"), ("naive", "naive (last value)"), ("seasonal", f"seasonal naive (m={season})")):
        e = errors(result[key], result["truth"])
        lines.append(f"  {label:<22}{e['mae']:>10.3f}{e['rmse']:>10.3f}{e['nrmse']:>8.3f}")
    return lines


def report(trainer, built: Built) -> list[str]:
    config, task = built.config, built.task
    mean, std = built.run_fields["task_mean"], built.run_fields["task_std"]
    result = forecasts(trainer.raw_model.cpu(), task, "test", built.extra["series"].values, mean, std, config)
    return score_lines(result, "test", config.season)


def evaluate(restored: Restored, split: str, options: EvalOptions) -> list[str]:
    """``rnnkit eval``: the error table on ``split`` of the series the checkpoint was trained on."""
    result, _ = predictions(restored, split)
    return score_lines(result, split, restored.config.season)


def predictions(restored: Restored, split: str, csv: str | None = None) -> tuple[dict, Series]:
    """:func:`forecasts` of a restored model on ``split`` of its own series (or the one in ``csv``)."""
    config, mean, std = restored.config, restored.transforms["mean"], restored.transforms["std"]
    series = load_series(config, csv)
    task = make_task(config, series.values, mean, std)
    return forecasts(restored.model, task, split, series.values, mean, std, config), series
