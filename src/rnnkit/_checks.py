"""Validation helpers shared by the public boundaries (layers, cells, init).

Every message names the owner, the argument, what was expected and what was given.
"""
from __future__ import annotations

import numbers
import os
import stat

import torch


class ShapeError(ValueError, RuntimeError):
    """A wrong shape: a ValueError (rnnkit's rule), and a RuntimeError, which torch.nn raises for the same
    mistake, so code written against torch.nn still catches it."""


class DeviceError(ValueError, RuntimeError):
    """Tensors on different devices: a ValueError, and torch.nn's RuntimeError."""


class DtypeError(TypeError, ValueError):
    """A dtype that does not match: a TypeError (rnnkit's rule for wrong types), and torch.nn's ValueError."""


def check_size(owner: str, name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: expected {name} to be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: expected {name} >= {minimum}, got {value}")
    return int(value)


def check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: expected {name} to be a bool, got {type(value).__name__} {value!r}")
    return value


def check_probability(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: expected {name} to be a number in [0, 1], got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{owner}: expected {name} in [0, 1], got {value}")
    return float(value)


def check_choice(owner: str, name: str, value, choices) -> str:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}: unknown {name} {value!r}; valid values are {valid}")
    return value


def check_tensor(owner: str, name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{owner}: expected {name} to be a torch.Tensor, got {type(value).__name__}")
    return value


def check_like(owner: str, name: str, tensor: torch.Tensor, reference: torch.Tensor, what: str) -> None:
    """Check that ``tensor`` has the dtype and device of ``reference`` (described by ``what``)."""
    if tensor.dtype != reference.dtype:
        raise DtypeError(
            f"{owner}: expected {name} of dtype {reference.dtype} (the dtype of {what}), got {tensor.dtype}"
        )
    if tensor.device != reference.device:
        raise DeviceError(
            f"{owner}: expected {name} on device {reference.device} (the device of {what}), got {tensor.device}"
        )


MAX_FILE_BYTES = 4 << 30  # 4 GiB: no input rnnkit reads is near this; a device like /dev/zero would be endless


def regular_file(path, what: str) -> int:
    """The size of ``path`` in bytes if it is a regular file of at most MAX_FILE_BYTES, else ValueError.

    A FIFO would block the read forever and a device (``/dev/zero``) never end: both are refused
    before anything is opened.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except OSError as e:
        raise ValueError(f"cannot read {what} {name!r}: {e.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{what} {name!r} is a directory, expected a file")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise ValueError(f"{what} {name!r} is {kind}, expected a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ValueError(f"{what} {name!r} holds {info.st_size} bytes, more than rnnkit reads "
                         f"({MAX_FILE_BYTES} bytes)")
    return info.st_size


class TooLarge(ValueError, MemoryError):
    """A size whose memory a check computed before allocating, and found more than is free.

    Both a ValueError (bad input: every boundary that reports bad input in one line catches it)
    and a MemoryError (what code written against torch's allocator catches)."""


def free_memory(device=None) -> int | None:
    """Bytes free for new tensors on ``device`` (default: the CPU): ``MemAvailable`` of the host, or
    what CUDA reports free; None where it cannot be told (then nothing is refused)."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] if torch.cuda.is_available() else None
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(owner: str, what: str, nbytes: int, device=None) -> None:
    """TooLarge naming ``what`` and the bytes it would take, before anything is allocated, if they are more
    than :func:`free_memory` on ``device``."""
    free = free_memory(device)
    if free is not None and nbytes > free:
        where = "this machine" if device is None or torch.device(device).type == "cpu" else str(device)
        raise TooLarge(f"{owner}: {what} would take {format_bytes(nbytes)}, more than the {format_bytes(free)} "
                       f"of memory free on {where}")


def element_bytes(dtype=None) -> int:
    """Bytes per element of ``dtype`` (default: torch's default dtype)."""
    return torch.empty((), dtype=dtype if dtype is not None else torch.get_default_dtype()).element_size()


def format_bytes(n: int) -> str:
    """``n`` bytes as people write them: 512 B, 3.2 MB, 57.6 GB."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}" if n < 1000 * size else f"{n / size:,.0f} {unit}"
    return f"{n} B"
