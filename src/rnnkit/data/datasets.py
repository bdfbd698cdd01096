"""The data sets shipped inside the package (``rnnkit/data/bundled/``; sources and licences in SOURCES.md).

Nothing is downloaded: each file is read, decompressed, from the installed package
with :mod:`importlib.resources`.

* :func:`shakespeare` — eight plays (about 1 MB of text), public domain.
* :func:`sunspots` — yearly sunspot numbers 1700–2008 (309 values), public domain.
* :func:`digits` — 1 797 handwritten digits (8 x 8 pixels, 0..16) with labels, CC BY 4.0.
"""
from __future__ import annotations

import gzip
import lzma
from importlib.resources import files

import numpy as np

BUNDLED = ("shakespeare", "sunspots", "digits")


def _read(name: str) -> bytes:
    raw = files("rnnkit.data").joinpath("bundled", name).read_bytes()
    return lzma.decompress(raw) if name.endswith(".xz") else gzip.decompress(raw)


def shakespeare() -> str:
    """The bundled Shakespeare corpus as one string (ASCII, ``\\n`` line ends)."""
    return _read("shakespeare.txt.xz").decode("utf-8")


def sunspots() -> tuple[np.ndarray, np.ndarray]:
    """``(years, values)``: the yearly mean sunspot numbers 1700..2008, each ``(309,)`` float64."""
    lines = _read("sunspots.csv.gz").decode("utf-8").split()
    table = np.array([[float(c) for c in line.split(",")] for line in lines[1:]])  # (309, 2)
    return table[:, 0], table[:, 1]


def sunspots_csv() -> str:
    """The bundled sunspot table as CSV text with the header ``"YEAR","SUNACTIVITY"``."""
    return _read("sunspots.csv.gz").decode("utf-8")


def digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)``: images ``(1797, 8, 8)`` float64 in 0..16, labels ``(1797,)`` int64 in 0..9."""
    rows = np.array([[int(c) for c in line.split(",")] for line in _read("digits.csv.gz").decode().split()])
    return rows[:, :64].reshape(-1, 8, 8).astype(np.float64), rows[:, 64].astype(np.int64)
