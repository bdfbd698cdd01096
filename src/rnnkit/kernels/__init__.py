"""Engines: how a whole sequence is run through a cell.

Every engine has the signature ``run(cell, x, state, lengths=None, reverse=False)`` and
the reference engine's meaning; :mod:`rnnkit.kernels.dispatch` chooses among them, and
those that can record per-step states and their gradients take ``record=``
(:mod:`rnnkit.kernels.record`).
"""
from rnnkit.kernels.dispatch import AUTO_ORDER, ENGINE_NAMES, ENGINES, select
from rnnkit.kernels.record import Recorder, Recording
from rnnkit.kernels.reference import run as run_reference

__all__ = ["ENGINES", "ENGINE_NAMES", "AUTO_ORDER", "select", "run_reference", "Recorder", "Recording"]
