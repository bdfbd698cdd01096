"""``rnnkit eval``: a training checkpoint -> its job -> the job's scores on held-out data."""
from __future__ import annotations

import argparse

HELP = "evaluate a checkpoint written by `rnnkit train` on its task's test (or val) batches"
EXAMPLES = """Examples:
  rnnkit eval runs/shakespeare-char/checkpoint.pt             # lm, forecast, classify: the whole test part
  rnnkit eval runs/adding-lstm/checkpoint.pt
  rnnkit eval runs/adding-lstm/checkpoint.pt --split val --batches 4 --batch-size 500"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("eval", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt written by rnnkit train")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="which batches (default: test)")
    parser.add_argument("--batches", type=int, default=10, help="generated tasks: how many batches (default: 10)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="generated tasks: sequences per batch (default: the training batch size)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: cpu)")
    return parser


def run(args: argparse.Namespace) -> int:
    from rnnkit import jobs
    from rnnkit.cli.parsing import fail
    from rnnkit.train import CheckpointError

    try:
        if args.batches < 1:
            raise ValueError(f"expected --batches >= 1, got {args.batches}")
        if args.batch_size is not None and args.batch_size < 1:
            raise ValueError(f"expected --batch-size >= 1, got {args.batch_size}")
        job, restored = jobs.restore(args.checkpoint)
        lines = job.evaluate(restored, args.split, jobs.EvalOptions(args.batches, args.batch_size, args.device))
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("eval", str(exc))
    for line in lines:
        print(line)
    return 0
