r"""Time series for forecasting: a CSV column, its normalisation, and windows for the Trainer.

:func:`read_series` reads one numeric column of a CSV file (by header name or 0-based
index), optionally a date/label column, and handles missing cells (empty, ``NA``,
``NaN``, ``null``) by rejecting them with the row number or by linear interpolation.

:class:`ForecastTask` cuts the (normalised) series :math:`z_t = (s_t - \mu) / \sigma`,
with :math:`\mu, \sigma` from the training part only, into windows of W inputs. The
target at every step t of a window is the next ``horizon`` values,

.. math::  x_t = z_{o+t},\qquad y_{t,k} = z_{o+t+1+k},\quad k = 0 \ldots K-1,

so a direct forecaster learns from every step. The series is split in time order;
a validation or test *origin* ``o`` is the first forecast point, and its window is the
W values before it (history may reach back into earlier parts). Validation and test
batches weight only the window's last step: their loss is the forecast error from
the full window. Shapes: ``x`` (W, B, 1), ``y`` (W, B, K), ``weight`` (W, B).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit._checks import check_choice, check_size
from rnnkit.data.batching import SPLITS, Batch, batch_generator
from rnnkit.data.files import csv_rows, read_utf8

MISSING = ("", "na", "nan", "null", "none", "?")
MISSING_POLICIES = ("reject", "fill")
LARGEST = float(np.finfo(np.float32).max)  # a value beyond it is inf in float32, and its square overflows float64


@dataclass(frozen=True, eq=False)
class Series:
    """One column of a table: float64 values ``(N,)`` and optional labels (dates) for each row."""

    values: np.ndarray  # (N,) float64, no NaN
    name: str  # the column's header, or "column <i>"
    dates: tuple | None = None  # (N,) the date/label column as text, or None
    filled: int = 0  # how many missing cells were interpolated


def read_series(path, column: str = "", date_column: str = "", missing: str = "reject",
                text: str | None = None) -> Series:
    """One numeric column of a CSV file; ValueError naming the file, row and column for each problem.

    ``column`` / ``date_column``: header name or 0-based index; ``""`` = the last column /
    no dates. ``missing``: ``"reject"`` or ``"fill"`` (linear interpolation, nearest
    value at the ends). ``text`` gives the CSV content directly (``path`` then only names it).
    """
    check_choice("read_series", "missing", missing, MISSING_POLICIES)
    name = os.fspath(path)
    if text is None:
        text = read_utf8(name, "CSV file")
    rows = [r for r in csv_rows(text, name, "CSV file") if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"CSV file {name!r} is empty, expected a header and numeric rows")
    header = None if all(_number(c) is not None for c in rows[0]) else [c.strip() for c in rows[0]]
    body, first = (rows[1:], 2) if header is not None else (rows, 1)
    if not body:
        raise ValueError(f"CSV file {name!r} has a header but no data rows")
    width = len(rows[0])
    index = _column(name, column, header, width, default=width - 1)
    dates_at = None if date_column == "" else _column(name, date_column, header, width, default=None)
    label = header[index] if header is not None else f"column {index}"
    values, dates = [], []
    for n, row in enumerate(body, start=first):
        if len(row) != width:
            raise ValueError(f"CSV file {name!r} row {n} has {len(row)} columns, expected {width}")
        cell = row[index].strip()
        absent = cell.lower() in MISSING
        value = None if absent else _number(cell)
        if absent or (value is not None and math.isnan(value)):  # "-nan" and "+NaN" too
            if missing == "reject":
                raise ValueError(f"CSV file {name!r} row {n} column {label!r}: the value is missing; "
                                 f"use --missing fill to interpolate it")
            values.append(math.nan)
        else:
            if value is None:
                raise ValueError(f"CSV file {name!r} row {n} column {label!r}: expected a number, got {cell!r}")
            if not abs(value) <= LARGEST:
                raise ValueError(f"CSV file {name!r} row {n} column {label!r}: expected a finite number within "
                                 f"+-{LARGEST:.3g} (models compute in float32), got {cell!r}")
            values.append(value)
        if dates_at is not None:
            dates.append(row[dates_at].strip())
    array = np.array(values, dtype=np.float64)
    gaps = np.isnan(array)
    if gaps.all():
        raise ValueError(f"CSV file {name!r} column {label!r} has no values")
    if gaps.any():
        known = np.flatnonzero(~gaps)
        array[gaps] = np.interp(np.flatnonzero(gaps), known, array[known])
    return Series(array, label, tuple(dates) if dates_at is not None else None, int(gaps.sum()))


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _column(name: str, column: str, header, width: int, default) -> int:
    if column == "":
        return default
    if column.lstrip("-").isdigit():
        index = int(column)
        if not -width <= index < width:
            raise ValueError(f"CSV file {name!r} has {width} columns, got column index {index}")
        return index % width
    if header is None or column not in header:
        names = "it has no header" if header is None else "columns: " + ", ".join(repr(h) for h in header)
        raise ValueError(f"CSV file {name!r} has no column {column!r} ({names})")
    return header.index(column)


@dataclass(frozen=True, eq=False)
class ForecastTask:
    """Windows of a normalised series for multi-step forecasting (see module docs)."""

    values: torch.Tensor  # (N,) float32 normalised series z
    length: int = 24  # W, input steps per window
    horizon: int = 4  # K, steps forecast from each window
    batch_size: int = 32  # B, training windows per batch
    seed: int = 0  # data seed: train batch ``index`` is a function of (seed, index)
    val_fraction: float = 0.15  # the part of the series before the test part whose values are validation targets
    test_fraction: float = 0.15  # the last part of the series, whose values are test targets

    name = "forecast"
    metric_name = "rmse_z"

    def __post_init__(self) -> None:
        check_size("ForecastTask", "length", self.length)
        check_size("ForecastTask", "horizon", self.horizon)
        check_size("ForecastTask", "batch_size", self.batch_size)
        n = self.values.numel()
        n_test, n_val = round(n * self.test_fraction), round(n * self.val_fraction)
        n_train = n - n_val - n_test
        need = self.length + self.horizon
        if n_train < need + 1 or n_val < self.horizon or n_test < self.horizon:
            raise ValueError(f"ForecastTask: the series has {n} values, too short for window {self.length} + "
                             f"horizon {self.horizon}: the training part ({n_train}) needs more than {need} and "
                             f"the validation ({n_val}) and test ({n_test}) parts at least {self.horizon} each")
        object.__setattr__(self, "bounds", {"train": (0, n_train), "val": (n_train, n - n_test), "test": (n - n_test, n)})

    def origins(self, split: str) -> torch.Tensor:
        """First forecast index of every full forecast inside ``split`` (val/test), ``(n,)``."""
        a, b = self.bounds[split]
        return torch.arange(max(a, self.length), b - self.horizon + 1)

    def _windows(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        W, K = self.length, self.horizon
        x = self.values[starts[:, None] + torch.arange(W)].T[:, :, None]  # (W, B, 1)
        idx = starts[:, None, None] + 1 + torch.arange(W)[None, :, None] + torch.arange(K)  # (B, W, K)
        return x, self.values[idx].transpose(0, 1)  # (W, B, K)

    def batch(self, split: str, index: int) -> Batch:
        """Train: B random windows, every step weighted. Val/test: every origin, last step weighted."""
        check_choice("ForecastTask", "split", split, SPLITS)
        check_size("ForecastTask", "index", index, minimum=0)
        if split == "train":
            top = self.bounds["train"][1] - self.length - self.horizon + 1
            starts = torch.randint(0, top, (self.batch_size,), generator=batch_generator(self.seed, split, index))
            x, y = self._windows(starts)
            return Batch(x, y, torch.ones(self.length, self.batch_size))
        starts = self.origins(split) - self.length
        x, y = self._windows(starts)
        weight = torch.zeros(self.length, starts.numel())
        weight[-1] = 1.0
        return Batch(x, y, weight)

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Weighted mean squared error (normalised units); output (W, B, K) direct or (W, B, 1) one-step."""
        k = output.shape[-1]
        per_step = ((output - batch.y[..., :k]) ** 2).mean(dim=-1)  # (W, B)
        return (per_step * batch.weight).sum() / batch.weight.sum()

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Root mean squared error in normalised units (the square root of the loss)."""
        return self.loss(output, batch).detach().sqrt()
