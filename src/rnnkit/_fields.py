"""Config dataclass fields that carry their own help text, and one checker for all of them.

Every configuration in rnnkit (the Trainer's, each job's) is a frozen dataclass whose
fields are declared with :func:`option`: the default, one line of help (shown by
``rnnkit train --help``) and, where the value is one of a few names, the valid choices.
:func:`check_fields` then checks every field's type against its annotation (bools are
not numbers; ints are accepted for floats) and its value against its choices.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import field, fields

_TYPES = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,)}


def option(default, help: str, *, choices: tuple | None = None, minimum=None):
    """A dataclass field with ``default``, its help text and (optionally) its valid values or smallest value."""
    return field(default=default, metadata={"help": help, "choices": choices, "minimum": minimum})


def help_of(f) -> str:
    """The help text of a dataclass field declared with :func:`option` ("" otherwise)."""
    return f.metadata.get("help", "")


def choices_of(f) -> tuple | None:
    """The valid values of a dataclass field declared with :func:`option` (None: any of its type)."""
    return f.metadata.get("choices")


def kinds(f) -> list[str]:
    """The type names of a field's annotation, e.g. ``['int', 'None']`` for ``int | None``."""
    return [k.strip() for k in str(f.type).split("|")]


def check_type(owner: str, name: str, value, annotation) -> None:
    """Check ``value`` against a field annotation such as ``'int | None'`` (bools are not numbers)."""
    allowed = [a.strip() for a in str(annotation).split("|")]
    if value is None and "None" in allowed:
        return
    for kind in allowed:
        types = _TYPES.get(kind, ())
        if kind != "bool" and isinstance(value, bool):
            continue
        if isinstance(value, types) or (kind == "float" and isinstance(value, numbers.Real)
                                        and not isinstance(value, bool)):
            return
    raise TypeError(f"{owner}: expected {name} to be {' or '.join(allowed)}, "
                    f"got {type(value).__name__} {value!r}")


def check_fields(config) -> None:
    """Type-check every field of a config dataclass; check it is one of its choices, at least its minimum,
    and, for a number, finite (a NaN would slip through every comparison and silently turn a rule off)."""
    owner = type(config).__qualname__
    for f in fields(config):
        value = getattr(config, f.name)
        check_type(owner, f.name, value, f.type)
        valid = choices_of(f)
        if valid is not None and value not in valid:
            raise ValueError(f"{owner}: unknown {f.name} {value!r}; valid values are {', '.join(map(str, valid))}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{owner}: expected {f.name} to be a finite number, got {value}")
        least = f.metadata.get("minimum")
        if least is not None and value is not None and value < least:
            raise ValueError(f"{owner}: expected {f.name} >= {least}, got {value}")
