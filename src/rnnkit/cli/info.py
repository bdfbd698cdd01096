"""``rnnkit info``: versions, the engines this installation can run, and whether the compiled kernels are built."""
from __future__ import annotations

import argparse
import platform

import torch

HELP = "show rnnkit, torch and Python versions and the available engines"


def add_parser(subparsers) -> argparse.ArgumentParser:
    return subparsers.add_parser("info", help=HELP, description=HELP + ".\n\nExample:\n  rnnkit info",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def run(args: argparse.Namespace) -> int:
    import rnnkit
    from rnnkit.kernels import ENGINE_NAMES
    from rnnkit.kernels.fused import built, sources
    from rnnkit.kernels.triton import missing

    print(f"rnnkit  {rnnkit.__version__}")
    print(f"torch   {torch.__version__} (CUDA available: {torch.cuda.is_available()})")
    print(f"python  {platform.python_version()} on {platform.machine()}")
    print(f"engines {', '.join(ENGINE_NAMES)}")
    for source in sources():
        state = "built (cached)" if built(source) else "not built yet: compiles on first use (about a minute)"
        print(f"fused   {source}: {state}")
    print(f"triton  {missing() or 'installed (GPU kernels for CUDA tensors)'}")
    return 0
