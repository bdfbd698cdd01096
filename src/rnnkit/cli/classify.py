"""``rnnkit classify``: label sequences with a checkpoint of ``rnnkit train --task classify``."""
from __future__ import annotations

import argparse

HELP = "classify labelled sequences with a checkpoint of rnnkit train --task classify"
EXAMPLES = """Examples:
  rnnkit classify runs/digits/checkpoint.pt                       # its own test split
  rnnkit classify runs/ecg/checkpoint.pt --sequences new.csv --output labels.csv

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
    from dataclasses import replace
    from pathlib import Path

    import numpy as np
    import torch

    from rnnkit.cli.train import fail
    from rnnkit.data.sequences import ClassifyTask
    from rnnkit.models import jobs
    from rnnkit.models.jobs import classify as job
    from rnnkit.train import CheckpointError

    try:
        ckpt = jobs.load_for(args.checkpoint, "classify", "classify")
        config, classes, mean, std, model = job.restore(ckpt, args.checkpoint)
        data = job.load_sequences(config, args.sequences)
        if data.features != mean.size:
            raise ValueError(f"the sequences have {data.features} feature(s) per step, the model expects {mean.size}")
        if args.sequences is None:
            split = ClassifyTask(data, config.batch_size, config.data_seed, config.val_fraction,
                                 config.test_fraction)
            indices = split.parts["test"].tolist()
            labels = data.labels
        else:
            foreign = sorted(set(data.classes) - set(classes))
            if foreign:
                raise ValueError(f"label(s) {', '.join(map(repr, foreign))} are not among the model's classes "
                                 f"{', '.join(map(repr, classes))}")
            index = {c: i for i, c in enumerate(classes)}
            labels = np.array([index[data.classes[k]] for k in data.labels], dtype=np.int64)
            indices = list(range(len(data.items)))  # every sequence of the file
        data = replace(job.standardise(data, mean, std), labels=labels, classes=classes)
        output = Path(args.output) if args.output else Path(args.checkpoint).parent / "predictions.csv"
        if output.is_dir() or not output.parent.is_dir():
            raise ValueError(f"cannot write {output}: expected a file name in an existing directory")
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("classify", str(exc))
    torch.set_num_threads(1)
    predicted = job.predict(model, data, indices)
    truth = data.labels[indices]
    _write(output, indices, [classes[k] for k in truth], [classes[k] for k in predicted])
    majority = np.bincount(truth, minlength=len(classes)).argmax()
    print(f"accuracy {float((predicted == truth).mean()):.3f} over {len(indices)} sequences "
          f"(always answering the most frequent label {classes[majority]!r} here: "
          f"{float((truth == majority).mean()):.3f})")
    print(f"wrote {output}")
    return 0


def _write(path, indices, truth, predicted) -> None:
    import csv
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["index", "label", "predicted"])
        out.writerows(zip(indices, truth, predicted))
    os.replace(tmp, path)
