"""``rnnkit diagnose``: measure vanishing/exploding gradients of a checkpoint or a fresh model.

Writes ``gradient_flow.png`` (||dL/dh_t|| against t, log axis), ``eigenvalues.png`` (W_hh's
eigenvalues and the unit circle), ``gates.png`` (LSTM/GRU gate saturation), ``report.txt``
and ``report.json`` into ``--out``, and prints the text report.
"""
from __future__ import annotations

import argparse

HELP = "measure vanishing and exploding gradients of a checkpoint or a fresh model: plots and a report"
EXAMPLES = """Examples:
  rnnkit diagnose --cell rnn --task adding --length 200          # flags vanishing
  rnnkit diagnose --cell lstm --task adding --length 200         # chrono init: no alarm
  rnnkit diagnose --cell lstm --init default --length 200        # torch.nn's init: vanishing too
  rnnkit diagnose --checkpoint runs/adding-lstm/checkpoint.pt --out runs/adding-lstm/diagnose"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.jobs.base import CELLS
    from rnnkit.jobs.diagnose import INITS
    from rnnkit.jobs.synthetic import JOBS

    parser = subparsers.add_parser("diagnose", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", metavar="PATH", help="a checkpoint.pt written by rnnkit train "
                        "(its task and model; the flags below describe a fresh model instead)")
    parser.add_argument("--cell", choices=CELLS, default="rnn", help="fresh model's cell (default: rnn)")
    parser.add_argument("--task", choices=tuple(job.NAME for job in JOBS), default="adding",
                        help="synthetic task (default: adding)")
    parser.add_argument("--length", type=int, default=100, help="the task's T (default: 100)")
    parser.add_argument("--hidden-size", type=int, default=64, help="H (default: 64)")
    parser.add_argument("--num-layers", type=int, default=1, help="stacked layers (default: 1)")
    parser.add_argument("--init", choices=INITS, default="auto",
                        help="fresh model's init; auto = chrono (max_len = length) for lstm, torch.nn's "
                             "default otherwise (default: auto)")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences measured (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh weights (default: 0)")
    parser.add_argument("--threshold", type=float, default=1e-6,
                        help="vanishing alarm when ||dL/dh_(T-k)||/||dL/dh_T|| falls below this (default: 1e-6)")
    parser.add_argument("--max-lag", type=int, default=100, help="longest Jacobian product (default: 100)")
    parser.add_argument("--out", metavar="DIR", default="runs/diagnose", help="output directory "
                        "(default: runs/diagnose)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.set_defaults(command="diagnose")
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    from rnnkit.cli.parsing import fail, output_dir, set_threads
    from rnnkit.diagnostics.report import diagnose, write_report
    from rnnkit.jobs import diagnose as job
    from rnnkit.train import CheckpointError

    try:
        for name in ("length", "hidden_size", "num_layers", "batch_size", "max_lag"):
            if getattr(args, name) < (2 if name == "length" else 1):
                raise ValueError(f"expected --{name.replace('_', '-')} >= {2 if name == 'length' else 1}, "
                                 f"got {getattr(args, name)}")
        if not 0 < args.threshold < 1:
            raise ValueError(f"expected --threshold in (0, 1), got {args.threshold}")
        out = output_dir(args.out)
        set_threads(args.threads)
        if args.checkpoint:
            model, task, info = job.from_checkpoint(args.checkpoint, args.batch_size)
        else:
            model, task, info = job.fresh(args.task, args.cell, args.length, args.hidden_size, args.num_layers,
                                          args.init, args.batch_size, args.seed)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("diagnose", str(exc))
    diagnosis = diagnose(model, task.batch("val", 0), task.loss, threshold=args.threshold, max_lag=args.max_lag,
                         info=info)
    written, skipped = write_report(diagnosis, out, title=f"{diagnosis.cell}, {info['task']} T={task.length}: "
                                                          "||dL/dh_t||")
    print(diagnosis.text())
    print("wrote " + ", ".join(str(p) for p in written))
    if skipped:
        print(f"rnnkit diagnose: no plots: {skipped}", file=sys.stderr)
    return 0
