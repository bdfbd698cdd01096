"""Jobs: the one layer that knows data, models and training together.

``JOBS`` maps each ``rnnkit train --task`` value to its job (the protocol is in
:mod:`rnnkit.jobs.base`): the generated tasks of :mod:`rnnkit.jobs.synthetic` and the
real jobs :mod:`~rnnkit.jobs.lm`, :mod:`~rnnkit.jobs.fill`, :mod:`~rnnkit.jobs.forecast`
and :mod:`~rnnkit.jobs.classify`. :mod:`rnnkit.jobs.esn` fits an echo state network in
closed form (no Trainer, no checkpoint); :mod:`rnnkit.jobs.experiments` holds the
experiments of docs/experiments.md, which train through the same Trainer.
"""
from __future__ import annotations

from rnnkit.jobs import classify, fill, forecast, lm, synthetic
from rnnkit.jobs.base import (Built, EvalOptions, Restored, from_mapping, load_for, read_toml, report_weights,
                              resumed_values, to_mapping)
from rnnkit.train.checkpoint import CheckpointError, load_checkpoint

JOBS = {job.NAME: job for job in (*synthetic.JOBS, lm, fill, forecast, classify)}
DEFAULT = "adding"  # the task of a run that names none


def get(name: str):
    """The job called ``name`` (a key of ``JOBS``)."""
    if name not in JOBS:
        raise ValueError(f"unknown task {name!r}; valid tasks are {', '.join(JOBS)}")
    return JOBS[name]


def restore(path):
    """``(job, restored)`` from any checkpoint written by ``rnnkit train`` (CheckpointError if it is bad)."""
    return restore_checkpoint(load_checkpoint(path), path)


def restore_checkpoint(ckpt: dict, path):
    """``(job, restored)`` from a checkpoint already read from ``path`` (CheckpointError if it is bad)."""
    task = ckpt["config"].get("task")  # load_checkpoint has checked that config is a dict
    if task not in JOBS:
        raise CheckpointError(f"checkpoint {path} names no known task (got {task!r}; valid tasks are "
                              f"{', '.join(JOBS)})")
    job = JOBS[task]
    return job, job.restore(ckpt, path)


__all__ = ["JOBS", "DEFAULT", "get", "restore", "restore_checkpoint", "Built", "Restored", "EvalOptions",
           "from_mapping", "to_mapping", "read_toml", "load_for", "report_weights", "resumed_values"]
