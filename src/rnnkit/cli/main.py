"""Entry point of the ``rnnkit`` command: registers the subcommands, nothing else."""
from __future__ import annotations

import argparse
import sys

from rnnkit.cli import classify, diagnose, esn, experiment, export, fill, forecast, generate, info, train
from rnnkit.cli import eval as eval_cmd
from rnnkit.cli.parsing import StrictParser

COMMANDS = {"info": info, "esn": esn, "train": train, "eval": eval_cmd, "generate": generate, "fill": fill,
            "forecast": forecast, "classify": classify, "export": export,
            "diagnose": diagnose, "experiment": experiment}


def build_parser() -> argparse.ArgumentParser:
    import rnnkit

    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks in PyTorch.")
    parser.add_argument("--version", action="version", version=f"rnnkit {rnnkit.__version__}")
    # every subcommand parser is strict: unknown flags are rejected with the valid ones
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=StrictParser)
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if args.command is None:
            parser.print_help()
            return 2
        return COMMANDS[args.command].run(args)
    except KeyboardInterrupt:  # Ctrl-C before a command's own handler (training stops at a step boundary)
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file that vanished or became unwritable after the checks: one line, not a traceback
        command = getattr(args, "command", None) or "rnnkit"
        print(f"rnnkit {command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except (MemoryError, RuntimeError) as exc:  # sizes checked before allocating, or the allocator itself
        if not isinstance(exc, MemoryError) and not _out_of_memory(exc):
            raise
        from rnnkit._checks import TooLarge

        command = getattr(args, "command", None) or "rnnkit"
        text = str(exc) if isinstance(exc, TooLarge) else "out of memory: " + _allocator_line(exc)
        print(f"rnnkit {command}: error: {text}", file=sys.stderr)
        return 2 if isinstance(exc, TooLarge) else 1


def _out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc)
    return "can't allocate memory" in text or "out of memory" in text.lower()


def _allocator_line(exc: BaseException) -> str:
    """torch's allocator message, cut to the bytes it asked for (it spans lines and names C++ files)."""
    import re

    from rnnkit._checks import format_bytes

    text = " ".join(str(exc).split())
    asked = re.search(r"tried to allocate (\d+) bytes", text)
    return (f"a tensor of {format_bytes(int(asked.group(1)))} did not fit; use smaller sizes (--batch-size, "
            f"--length, --hidden-size, --units)" if asked else text[:200])
