"""Engines: how a whole sequence is run through a cell."""
from rnnkit.kernels.dispatch import ENGINE_NAMES, ENGINES, select
from rnnkit.kernels.reference import run as run_reference

__all__ = ["ENGINES", "ENGINE_NAMES", "select", "run_reference"]
