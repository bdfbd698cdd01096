"""``--task forecast``: multi-step forecasting of the bundled sunspots or a column of any CSV file.

The series is normalised with the training part's mean and standard deviation, which
are stored in the checkpoint. After training it reports test MAE, RMSE and NRMSE in the
series' own units beside the naive (last value) and seasonal-naive baselines, over
every test origin and every step of the horizon.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
import torch

from rnnkit.data.datasets import sunspots_csv
from rnnkit.data.series import MISSING_POLICIES, ForecastTask, Series, read_series
from rnnkit.models.forecaster import MODES, Forecaster, errors, naive, seasonal_naive, truths
from rnnkit.models.jobs import Built, check_config, load_weights, restore_config

NAME = "forecast"
BUNDLED_SERIES = "sunspots"
TRANSFORMS = ("none", "sqrt")
TRAIN_DEFAULTS = {"steps": 1500, "lr": 0.005, "eval_every": 100, "eval_batches": 1, "checkpoint_every": 500}


@dataclass(frozen=True)
class Config:
    """A forecasting run: the series, the window and horizon, the model."""

    csv: str = BUNDLED_SERIES  # forecast: a CSV file, or "sunspots" for the bundled yearly series 1700-2008
    column: str = ""  # forecast: the value column (header name or 0-based index); "" = the last column
    date_column: str = ""  # forecast: a date/label column for the output CSV and plot ("" = none; sunspots: YEAR)
    missing: str = "reject"  # forecast: a missing value is "reject"ed (naming its row) or "fill"ed by interpolation
    length: int = 24  # T: the input window, in steps of the series
    horizon: int = 2  # forecast: K, steps forecast from each window
    mode: str = "direct"  # forecast: "direct" (all K at once) or "autoregressive" (one step, fed back)
    season: int = 11  # forecast: the seasonal-naive baseline's period (sunspots: the 11-year cycle)
    transform: str = "none"  # forecast: "none" or "sqrt" (model sqrt(max(s, 0)); forecasts are squared back)
    val_fraction: float = 0.15  # forecast: the part of the series before the test part used for validation
    test_fraction: float = 0.15  # forecast: the last part of the series, whose values are forecast in the test
    batch_size: int = 32  # windows per batch
    data_seed: int = 0  # seed of the windows' positions
    cell: str = "lstm"  # "rnn" (tanh), "lstm" or "gru"
    hidden_size: int = 32  # H
    num_layers: int = 1  # stacked recurrent layers
    engine: str = "auto"  # engine name, one of rnnkit.kernels.ENGINE_NAMES
    init: str = "default"  # initialisation name, one of rnnkit.init.INIT_NAMES

    def __post_init__(self) -> None:
        check_config(self)
        if self.missing not in MISSING_POLICIES:
            raise ValueError(f"--missing: expected one of {', '.join(MISSING_POLICIES)}, got {self.missing!r}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"--transform: expected one of {', '.join(TRANSFORMS)}, got {self.transform!r}")
        if self.mode not in MODES:
            raise ValueError(f"--mode: expected one of {', '.join(MODES)}, got {self.mode!r}")


def load_series(config: Config, csv: str | None = None) -> Series:
    """The configured series (or the one in ``csv``), read with the config's column and missing policy."""
    path = config.csv if csv is None else csv
    if path == BUNDLED_SERIES:
        return read_series("sunspots (bundled)", config.column or "SUNACTIVITY", config.date_column or "YEAR",
                           config.missing, text=sunspots_csv())
    return read_series(path, config.column, config.date_column, config.missing)


def make_model(config: Config) -> Forecaster:
    return Forecaster(1, config.hidden_size, config.horizon, config.num_layers, cell=config.cell, mode=config.mode,
                      engine=config.engine, init=None if config.init == "default" else config.init)


def forward_transform(config: Config, values: np.ndarray) -> np.ndarray:
    """The series as the model sees it before normalisation."""
    return np.sqrt(np.maximum(values, 0.0)) if config.transform == "sqrt" else values


def inverse_transform(config: Config, values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0) ** 2 if config.transform == "sqrt" else values


def make_task(config: Config, values: np.ndarray, mean: float, std: float) -> ForecastTask:
    """Windows of z = (f(s) - mean) / std, f the transform; mean and std are of f(s) on the training part."""
    z = torch.tensor((forward_transform(config, values) - mean) / std, dtype=torch.float32)
    return ForecastTask(z, config.length, config.horizon, config.batch_size, config.data_seed,
                        config.val_fraction, config.test_fraction)


def build(config: Config) -> Built:
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
    run_fields = {"job": asdict(config), "task_mean": mean, "task_std": std, "task_series": series.name,
                  "model_cell": config.cell, "model_hidden_size": config.hidden_size,
                  "model_num_layers": config.num_layers, "model_horizon": config.horizon, "model_mode": config.mode}
    return Built(config, task, make_model(config), run_fields, {"series": series})


def restore(ckpt: dict, path):
    """``(config, mean, std, model)`` from a ``forecast`` checkpoint."""
    config = restore_config(sys.modules[__name__], ckpt, path)
    model = make_model(config)
    load_weights(model, ckpt, path)
    return config, float(ckpt["config"]["task_mean"]), float(ckpt["config"]["task_std"]), model


def forecasts(model: Forecaster, task: ForecastTask, split: str, values: np.ndarray, mean: float, std: float,
              config: Config) -> dict:
    """Origins ``(n,)`` and truth / model / naive / seasonal forecasts ``(n, K)`` in the series' units."""
    origins = task.origins(split)
    model.eval()
    x = task.batch(split, 0).x  # (W, n, 1)
    predicted = inverse_transform(config, model.forecast(x).double().numpy() * std + mean)  # (n, K)
    o = origins.numpy()
    return {"origins": o, "truth": truths(values, o, task.horizon), "model": predicted,
            "naive": naive(values, o, task.horizon), "seasonal": seasonal_naive(values, o, task.horizon, config.season)}


def beyond(model: Forecaster, config: Config, values: np.ndarray, mean: float, std: float) -> np.ndarray:
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


def evaluate(ckpt: dict, path, split: str) -> list[str]:
    """``rnnkit eval``: the error table on ``split`` of the series the checkpoint was trained on."""
    config, mean, std, model = restore(ckpt, path)
    series = load_series(config)
    task = make_task(config, series.values, mean, std)
    return score_lines(forecasts(model, task, split, series.values, mean, std, config), split, config.season)
