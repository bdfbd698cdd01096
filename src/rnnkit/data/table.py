"""Reading a numeric time series from a CSV file, with one clear error per problem."""
from __future__ import annotations

import csv
import math
import os

import torch

from rnnkit.data.files import read_utf8


def read_csv_series(path: str | os.PathLike, column: str | int | None = None) -> torch.Tensor:
    """One numeric column of a CSV file as a float64 tensor ``(T,)``.

    The first row is a header when any of its cells is not a number. ``column`` is a
    header name or a 0-based index; by default the last column. Empty files, binary
    files, ragged or non-numeric rows and NaN values raise ``ValueError`` naming the file,
    the row and the column.
    """
    owner = "read_csv_series"
    text = read_utf8(path, f"{owner}: CSV file")
    rows = [r for r in csv.reader(text.splitlines()) if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{owner}: {os.fspath(path)!r} is empty, expected a CSV file with a numeric column")
    header = None if all(_is_number(c) for c in rows[0]) else rows[0]
    body = rows[1:] if header is not None else rows
    if not body:
        raise ValueError(f"{owner}: {os.fspath(path)!r} has a header but no data rows")
    width = len(rows[0])
    index = _column_index(owner, path, column, header, width)
    values = []
    for n, row in enumerate(body, start=2 if header is not None else 1):
        if len(row) != width:
            raise ValueError(f"{owner}: {os.fspath(path)!r} row {n} has {len(row)} columns, expected {width}")
        cell = row[index].strip()
        if not _is_number(cell):
            raise ValueError(f"{owner}: {os.fspath(path)!r} row {n} column {index}: expected a number, got {cell!r}")
        value = float(cell)
        if not math.isfinite(value):
            raise ValueError(f"{owner}: {os.fspath(path)!r} row {n} column {index}: expected a finite number, "
                             f"got {cell!r} (clean or interpolate missing values first)")
        values.append(value)
    return torch.tensor(values, dtype=torch.float64)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(owner: str, path, column, header, width: int) -> int:
    if column is None:
        return width - 1
    if isinstance(column, int) or (isinstance(column, str) and column.lstrip("-").isdigit()):
        index = int(column)
        if not -width <= index < width:
            raise ValueError(f"{owner}: {os.fspath(path)!r} has {width} columns, got column index {index}")
        return index % width
    if header is None or column not in header:
        names = "no header" if header is None else "columns " + ", ".join(repr(h) for h in header)
        raise ValueError(f"{owner}: {os.fspath(path)!r} has no column {column!r} ({names})")
    return header.index(column)
