"""Engine registry and ``engine="auto"`` selection.

An engine is a function with the reference engine's signature and meaning
(see :mod:`rnnkit.kernels.reference`). Today the reference engine is the only one,
so ``"auto"`` selects it; faster engines register here with the rule that admits them.
"""
from __future__ import annotations

from typing import Callable

from rnnkit._checks import check_choice
from rnnkit.kernels import reference

ENGINES: dict[str, Callable] = {"reference": reference.run}

ENGINE_NAMES = ("auto", *ENGINES)


def check_engine(owner: str, engine) -> str:
    """Validate an ``engine=`` argument; the error lists the valid names."""
    if not isinstance(engine, str):
        raise TypeError(f"{owner}: expected engine to be a str, one of {', '.join(ENGINE_NAMES)}; "
                        f"got {type(engine).__name__}")
    return check_choice(owner, "engine", engine, ENGINE_NAMES)


def select(engine: str, cell) -> Callable:
    """The engine's ``run`` function for ``cell``; ``"auto"`` picks the fastest that serves it."""
    if engine == "auto":
        return ENGINES["reference"]
    return ENGINES[engine]
