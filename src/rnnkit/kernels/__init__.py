"""Engines: how a whole sequence is run through a cell.

Every engine has the signature ``run(cell, x, state, lengths=None, reverse=False)`` and
the reference engine's meaning; :mod:`rnnkit.kernels.dispatch` chooses among them.
"""
from rnnkit.kernels.dispatch import AUTO_ORDER, ENGINE_NAMES, ENGINES, Explanation, explain, select
from rnnkit.kernels.reference import run as run_reference

__all__ = ["ENGINES", "ENGINE_NAMES", "AUTO_ORDER", "Explanation", "explain", "select", "run_reference"]
