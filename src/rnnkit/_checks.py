"""Validation helpers shared by the public boundaries (layers, cells, init).

Every message names the owner, the argument, what was expected and what was given.
"""
from __future__ import annotations

import numbers

import torch


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
        raise TypeError(
            f"{owner}: expected {name} of dtype {reference.dtype} (the dtype of {what}), got {tensor.dtype}"
        )
    if tensor.device != reference.device:
        raise ValueError(
            f"{owner}: expected {name} on device {reference.device} (the device of {what}), got {tensor.device}"
        )
