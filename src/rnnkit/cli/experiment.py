"""``rnnkit experiment N``: run one of the seven gradient experiments of docs/experiments.md.

Prints the measured table (Markdown) and writes the plots, ``expN.json`` and ``expN.md``
into ``--out``. Each takes at most a few minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse

HELP = "run one of the seven vanishing/exploding-gradient experiments (tables + plots)"
EXAMPLES = """Examples:
  rnnkit experiment 1 --out docs/img      # gradient norm vs lag: tanh, ReLU, LSTM, GRU
  rnnkit experiment 2                     # spectral radius 0.9 / 1.0 / 1.1
  rnnkit experiment 3 --quick             # tiny sizes, seconds (a smoke run; numbers mean little)"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.diagnostics.experiments import EXPERIMENTS

    lines = "\n".join(f"  {n}. {fn.__doc__.splitlines()[0]}" for n, fn in EXPERIMENTS.items())
    parser = subparsers.add_parser("experiment", help=HELP,
                                   description=HELP + ".\n\nExperiments:\n" + lines + "\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("number", type=int, choices=tuple(EXPERIMENTS), help="which experiment (1-7)")
    parser.add_argument("--out", metavar="DIR", default="runs/experiments",
                        help="where plots, expN.json and expN.md go (default: runs/experiments)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and a few steps: a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.set_defaults(command="experiment")
    return parser


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import torch

    from rnnkit.cli.train import fail
    from rnnkit.diagnostics.experiments import EXPERIMENTS

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return fail("experiment", f"output directory {out} exists and is a file")
    if args.threads < 1:
        return fail("experiment", f"expected --threads >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    out.mkdir(parents=True, exist_ok=True)
    experiment = EXPERIMENTS[args.number]
    start = time.perf_counter()
    lines = experiment(out, quick=args.quick)
    seconds = time.perf_counter() - start
    header = f"Experiment {args.number}: {experiment.__doc__.splitlines()[0]}"
    text = "\n".join([header, "", *lines, "", f"wall time {seconds:.0f} s (torch threads: {args.threads})"])
    (out / f"exp{args.number}.md").write_text(text + "\n")
    print(text)
    return 0
