"""A numeric time series from a CSV file as a tensor (for ``rnnkit esn``): a view of
:func:`rnnkit.data.series.read_series`, which does the reading and every check."""
from __future__ import annotations

import os

import torch

from rnnkit.data.series import read_series


def read_csv_series(path: str | os.PathLike, column: str | int | None = None,
                    missing: str = "reject") -> torch.Tensor:
    """One numeric column of a CSV file as a float64 tensor ``(T,)``.

    The first row is a header when any of its cells is not a number. ``column`` is a
    header name or a 0-based index; by default the last column. ``missing``:
    ``"reject"`` or ``"fill"`` (interpolate) missing cells (empty, NaN, NA). Empty
    files, binary files, ragged or non-numeric rows raise ``ValueError`` naming the
    file, the row and the column.
    """
    series = read_series(path, "" if column is None else str(column), missing=missing)
    return torch.from_numpy(series.values)
