"""Reading users' files with one clear line per problem: missing, not a regular file, empty, binary, not UTF-8."""
from __future__ import annotations

import csv
import io
import os

from rnnkit._checks import regular_file


def read_bytes(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of ``path``; ``what`` names the file in the error (e.g. ``"CSV file"``).

    Only regular files are read (a FIFO or a device is refused before it is opened).
    """
    regular_file(path, what)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"cannot read {what} {os.fspath(path)!r}: {e.strerror}") from None


def decode_utf8(raw: bytes, path: str | os.PathLike, what: str, hint: str = "") -> str:
    """``raw`` as text; ValueError if it is empty, binary or not UTF-8 (``hint`` ends that message)."""
    name = os.fspath(path)
    if not raw.strip():
        raise ValueError(f"{what} {name!r} is empty, expected UTF-8 text")
    if b"\x00" in raw:
        raise ValueError(f"{what} {name!r} looks binary (it contains NUL bytes), expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} {name!r} is not UTF-8 (invalid byte 0x{raw[e.start]:02x} at offset "
                         f"{e.start}){hint}") from None


def read_utf8(path: str | os.PathLike, what: str, hint: str = "") -> str:
    """The text of a UTF-8 file, or one clear ValueError."""
    return decode_utf8(read_bytes(path, what), path, what, hint)


def csv_rows(text: str, name: str, what: str) -> list:
    """The rows of CSV ``text`` (any line endings); ValueError with the line if it is not CSV
    (a stray carriage return inside a field, a field over the csv module's size limit...)."""
    reader = csv.reader(io.StringIO(text.replace("\r\n", "\n").replace("\r", "\n"), newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        raise ValueError(f"{what} {name!r} line {reader.line_num}: not valid CSV ({exc})") from None
