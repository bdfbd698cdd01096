"""One switch for bit-identical runs: :func:`set_deterministic`.

Two runs of the same code with the same seed on the same machine, software and thread
count give the same bits on the CPU: every rnnkit engine splits its work by rows in a fixed
way and reduces in a fixed order, and the fused kernels align what MKL reads, since MKL's
rounding depends on alignment. On a GPU, cuDNN's autotuner and some kernels (atomic adds in
scatter/index_add backward, cuBLAS split-K workspaces) are not deterministic unless told:
this switch turns cuDNN's autotuner off, asks for its deterministic algorithms, fixes cuBLAS's
workspace, and makes torch warn, naming the op, where a kernel has no deterministic form.
Not covered anywhere: a different thread count, CPU model, or library version may change the
last bits of any floating-point reduction.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from rnnkit._checks import check_size


def set_deterministic(seed: int = 0) -> None:
    """Seed every generator (torch CPU and CUDA, numpy, Python's ``random``) with ``seed`` and make
    torch choose deterministic kernels (see the module docs for what that covers)."""
    seed = check_size("set_deterministic", "seed", seed, minimum=0)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.manual_seed(seed)  # seeds CUDA as well
    np.random.seed(seed % 2**32)
    random.seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
