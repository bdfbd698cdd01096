"""Fuzzed input files: whatever bytes a user's file holds, every reader returns data that meets its
contract or raises one ValueError line, never another exception, a hang or a NaN in the data."""
import io
import math
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.sequences import read_sequences
from rnnkit.data.series import read_series
from rnnkit.data.text import read_text
from rnnkit.jobs import read_toml

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
CELLS = st.one_of(st.sampled_from(["", "nan", "-nan", "inf", "-inf", "1e308", "-1e39", "NA", "?", "x", "1,5",
                                   '"3"', "0x1p3", "1_000", "\x00", "\u00e9"]),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str), st.text(max_size=6))
TABLES = st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=0, max_size=8)


def _csv(rows) -> str:
    return "\n".join(",".join(row) for row in rows)


def _one_line(exc: ValueError) -> None:
    assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(rows=TABLES, missing=st.sampled_from(["reject", "fill"]))
def test_a_fuzzed_series_csv_reads_finite_values_or_is_one_line(rows, missing):
    try:
        series = read_series("fuzz.csv", missing=missing, text=_csv(rows))
    except ValueError as exc:
        _one_line(exc)
        return
    assert series.values.size >= 1 and np.isfinite(series.values).all()
    assert np.abs(series.values).max() <= np.finfo(np.float32).max
    assert math.isfinite(float(np.std(series.values)))  # the statistics a forecaster normalises with


@FUZZ
@given(rows=TABLES)
def test_a_fuzzed_sequence_csv_reads_finite_float32_or_is_one_line(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "s.csv"
    path.write_text(_csv(rows), encoding="utf-8", errors="surrogatepass")
    try:
        data = read_sequences(path)
    except ValueError as exc:
        _one_line(exc)
        return
    assert len(data.items) >= 2 and all(np.isfinite(a).all() and a.dtype == np.float32 for a in data.items)


ARRAYS = st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.bool_, np.complex64, np.str_]).flatmap(
    lambda dtype: st.tuples(st.just(dtype), st.lists(st.integers(0, 4), min_size=1, max_size=3)))


@FUZZ
@given(x=ARRAYS, y=st.lists(st.integers(0, 3), max_size=5), lengths=st.none() | st.lists(st.integers(-1, 6), max_size=5),
       special=st.sampled_from([0.0, math.nan, math.inf, 1e300]))
def test_a_fuzzed_npz_reads_or_is_one_line(tmp_path_factory, x, y, lengths, special):
    dtype, shape = x
    array = np.ones(shape).astype(dtype) if dtype is not np.str_ else np.full(shape, "a")
    if array.size and np.issubdtype(array.dtype, np.floating):
        with np.errstate(over="ignore"):  # 1e300 is inf in float32: one more value to refuse
            array.flat[0] = special
    arrays = {"x": array, "y": np.array(y)}
    if lengths is not None:
        arrays["lengths"] = np.array(lengths)
    path = tmp_path_factory.mktemp("fuzz") / "s.npz"
    np.savez(path, **arrays)
    try:
        data = read_sequences(path)
    except ValueError as exc:
        _one_line(exc)
        return
    assert len(data.items) >= 2 and all(np.isfinite(a).all() for a in data.items)


@FUZZ
@given(raw=st.binary(max_size=300) | st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=300)))
def test_fuzzed_bytes_as_npz_text_or_toml_are_read_or_one_line(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("fuzz")
    for name, read in (("s.npz", read_sequences), ("t.txt", read_text), ("c.toml", read_toml)):
        (folder / name).write_bytes(raw)
        try:
            read(folder / name)
        except ValueError as exc:
            _one_line(exc)


def test_a_zip_bomb_like_npz_is_refused_not_expanded(tmp_path):
    """An NPZ member that claims far more than it holds is read by numpy's own checks, in one line."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }"
                   .ljust(128, b" ") + b"\n")
        z.writestr("y.npy", b"")
    (tmp_path / "s.npz").write_bytes(buffer.getvalue())
    try:
        read_sequences(tmp_path / "s.npz")
    except ValueError as exc:
        _one_line(exc)
    else:
        raise AssertionError("a truncated 80 GB array was accepted")
