"""Entry point of the ``rnnkit`` command: registers the subcommands, nothing else."""
from __future__ import annotations

import argparse
import sys

from rnnkit.cli import classify, diagnose, esn, experiment, forecast, generate, info, train
from rnnkit.cli import eval as eval_cmd
from rnnkit.cli.parsing import StrictParser

COMMANDS = {"info": info, "esn": esn, "train": train, "eval": eval_cmd, "generate": generate,
            "forecast": forecast, "classify": classify,
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
