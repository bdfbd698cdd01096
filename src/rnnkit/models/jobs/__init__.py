"""Real jobs on real data: a language model (``lm``), a forecaster (``forecast``), a classifier (``classify``).

Each job module holds a frozen config dataclass (``Config``, one comment per field:
the ``rnnkit train`` help text), the training defaults it changes (``TRAIN_DEFAULTS``),
``build(config) -> Built`` (task, model and the plain values stored in the checkpoint),
``restore(ckpt, path)`` (the model and its data transforms back from a checkpoint,
without the training data) and ``report(trainer, built)`` (lines printed after training).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from rnnkit.train.checkpoint import CheckpointError, load_checkpoint
from rnnkit.train.config import TrainConfig, _check_type


@dataclass
class Built:
    """What a job builds from its config: the Trainer's task and model, and the checkpoint's run values."""

    config: object  # the job's Config
    task: object  # the task served to the Trainer
    model: object  # the torch module
    run_fields: dict  # plain values stored in the checkpoint; task_*/model_* keys must match on resume
    extra: dict  # what the report needs (texts, baselines, ...)


def check_config(config) -> None:
    """Type-check every field of a job config against its annotation (bools are not numbers)."""
    for f in fields(config):
        _check_type(f.name, getattr(config, f.name), f.type)


def from_mapping(job, values: dict, source: str):
    """``(job.Config, TrainConfig)`` from flat ``values``; ValueError naming the valid keys for an unknown one."""
    job_keys = [f.name for f in fields(job.Config)]
    train_keys = [f.name for f in fields(TrainConfig)]
    values = {k: v for k, v in values.items() if k != "task"}
    unknown = sorted(set(values) - set(job_keys) - set(train_keys))
    if unknown:
        raise ValueError(f"{source}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
                         f"--task {job.NAME}; valid keys are {', '.join(['task', *job_keys, *train_keys])}")
    train = TrainConfig(**{**job.TRAIN_DEFAULTS, **{k: v for k, v in values.items() if k in train_keys}})
    return job.Config(**{k: v for k, v in values.items() if k in job_keys}), train


def load_for(path, task: str, command: str) -> dict:
    """A checkpoint of ``task``; CheckpointError with one line if it is missing, bad, or of another task."""
    ckpt = load_checkpoint(path)
    found = ckpt.get("config", {}).get("task")
    if found != task:
        raise CheckpointError(f"checkpoint {path} was written for task {found!r}; rnnkit {command} needs a "
                              f"checkpoint of task {task!r} (rnnkit train --task {task})")
    return ckpt


def restore_config(job, ckpt: dict, path):
    """The job config stored in a checkpoint (CheckpointError if it is missing or does not fit)."""
    try:
        return job.Config(**ckpt["config"]["job"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks a valid {job.NAME} config: {exc}") from None


def load_weights(model, ckpt: dict, path) -> None:
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError) as exc:
        first = " ".join(str(exc).split())
        raise CheckpointError(f"checkpoint {path} does not fit its own model config: {first[:300]}") from None


JOB_NAMES = ("lm", "forecast", "classify")  # the --task values of rnnkit train beside the synthetic tasks


def get(name: str):
    """The job module called ``name`` (one of ``JOB_NAMES``)."""
    import importlib

    if name not in JOB_NAMES:
        raise ValueError(f"unknown job {name!r}; valid jobs are {', '.join(JOB_NAMES)}")
    return importlib.import_module(f"rnnkit.models.jobs.{name}")

