"""``rnnkit classify``: label sequences with a checkpoint of ``rnnkit train --task classify``."""
from __future__ import annotations

import argparse

HELP = "classify labelled sequences with a checkpoint of rnnkit train --task classify"
EXAMPLES = """Examples:
  rnnkit classify runs/digits/checkpoint.pt                       # its own test split
  rnnkit classify runs/ecg/checkpoint.pt --sequences new.csv --output runs/ecg/labels.csv

Without --sequences the checkpoint's own test split is classified (the data it was
trained on must still be readable). A CSV file has one sequence per row, label first;
an NPZ file holds x (N, T[, F]), y (N,) and optional lengths (N,). Its labels must be
among the model's classes; accuracy and the majority-class baseline are printed and
one line per sequence (index, true label, predicted label) goes to the output CSV
(default: predictions.csv next to the checkpoint). Nothing is written when an input
is refused."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("classify", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt written by rnnkit train --task classify")
    parser.add_argument("--sequences", default=None, help="an .npz or .csv of labelled sequences "
                                                          "(default: the checkpoint's test split)")
    parser.add_argument("--output", default=None, help="predictions CSV to write (default: next to the checkpoint, "
                                                       "predictions.csv)")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from rnnkit.cli.parsing import fail
    from rnnkit.jobs import classify as job
    from rnnkit.jobs import load_for
    from rnnkit.train import CheckpointError

    try:
        restored = job.restore(load_for(args.checkpoint, "classify", "classify"), args.checkpoint)
        data, indices = job.labelled(restored, args.sequences)
        output = Path(args.output) if args.output else Path(args.checkpoint).parent / "predictions.csv"
        if output.is_dir() or not output.parent.is_dir():
            raise ValueError(f"cannot write {output}: expected a file name in an existing directory")
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("classify", str(exc))
    torch.set_num_threads(1)
    classes = restored.transforms["classes"]
    predicted = job.predict(restored.model, data, indices)
    truth = data.labels[indices]
    job.write_predictions(output, indices, [classes[k] for k in truth], [classes[k] for k in predicted])
    print(job.accuracy_line(predicted, truth, classes, restored.transforms["majority"]))
    print(f"wrote {output}")
    return 0
