"""``rnnkit experiment N``: run one of the experiments of docs/experiments.md.

Prints the measured table (Markdown) and writes the plots, ``expN.json`` and ``expN.md``
into ``--out``. Each takes at most a few minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse

HELP = "run one of the ten experiments on vanishing/exploding gradients, memory and context (tables + plots)"
EXAMPLES = """Examples:
  rnnkit experiment 1 --out runs/exp1     # gradient norm vs lag: tanh, ReLU, LSTM, GRU
  rnnkit experiment 2                     # spectral radius 0.9 / 1.0 / 1.1
  rnnkit experiment 3 --quick             # seconds: reproduces the headline claim (tests/jobs/test_experiment_bands.py)"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.jobs.experiments import EXPERIMENTS

    lines = "\n".join(f"  {n}. {fn.__doc__.splitlines()[0]}" for n, fn in EXPERIMENTS.items())
    parser = subparsers.add_parser("experiment", help=HELP,
                                   description=HELP + ".\n\nExperiments:\n" + lines + "\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("number", type=int, choices=tuple(EXPERIMENTS), help=f"which experiment (1-{max(EXPERIMENTS)})")
    parser.add_argument("--out", metavar="DIR", default="runs/experiments",
                        help="where plots, expN.json and expN.md go (default: runs/experiments)")
    parser.add_argument("--quick", action="store_true",
                        help="a short run (seconds) that reproduces the experiment's headline claim")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.set_defaults(command="experiment")
    return parser


def run(args: argparse.Namespace) -> int:
    from rnnkit.cli.parsing import fail, output_dir, set_threads
    from rnnkit.jobs.experiments import run_experiment

    try:
        out = output_dir(args.out)
        set_threads(args.threads)
    except ValueError as exc:
        return fail("experiment", str(exc))
    print(run_experiment(args.number, out, quick=args.quick, threads=args.threads))
    return 0
