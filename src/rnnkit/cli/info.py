"""``rnnkit info``: versions and the engines this installation can run."""
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

    print(f"rnnkit  {rnnkit.__version__}")
    print(f"torch   {torch.__version__} (CUDA available: {torch.cuda.is_available()})")
    print(f"python  {platform.python_version()} on {platform.machine()}")
    print(f"engines {', '.join(ENGINE_NAMES)}")
    return 0
