"""GPU kernels in Triton, import-guarded: nothing here imports ``triton`` until a kernel is asked for.

Correctness is tested on the CPU with ``TRITON_INTERPRET=1`` (tests/kernels/test_triton_scan.py).
"""
from __future__ import annotations

import importlib.util

INSTALL = "pip install 'rnnkit[gpu]' (or pip install triton)"


def missing() -> str | None:
    """Why the Triton kernels cannot run here, or None if they can."""
    if importlib.util.find_spec("triton") is None:
        return f"Triton is not installed: {INSTALL}"
    return None
