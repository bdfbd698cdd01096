"""The job protocol, and a job's config to and from flat values, TOML files and checkpoints.

A job is what ``rnnkit train --task NAME`` runs. Every job (a module, or an object for
the synthetic tasks) has the same few named members, and no caller branches on which
job it holds:

- ``NAME``: the ``--task`` value;
- ``Config``: a frozen dataclass whose fields are declared with :func:`rnnkit._fields.option`
  (default, help text shown by ``rnnkit train --help``, valid choices);
- ``TRAIN_DEFAULTS``: the :class:`~rnnkit.train.TrainConfig` fields it sets differently;
- ``build(config) -> Built``: the data, the model and the values stored in the checkpoint;
- ``restore(ckpt, path) -> Restored``: the model and its data transforms back from a
  checkpoint, without the training data;
- ``evaluate(restored, split, options) -> lines``: ``rnnkit eval``;
- ``report(trainer, built) -> lines``: printed after training.

A checkpoint's ``config`` holds ``task`` (the job's name), ``job`` (the config's fields,
written by :func:`checkpoint_fields` and read back by :func:`restore_config`), and the
``task_*``/``model_*`` values that must match when a run is resumed.
"""
from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field, fields

from rnnkit._fields import option
from rnnkit.data.files import read_bytes
from rnnkit.init import INIT_NAMES
from rnnkit.kernels import ENGINE_NAMES
from rnnkit.train.checkpoint import RESUME, CheckpointError, load_checkpoint
from rnnkit.train.config import TrainConfig


CELLS = ("rnn", "relu", "lstm", "gru", "mingru", "minlstm")  # the cell names every job's model takes


def cell_option():
    """The ``cell`` field every job's config has."""
    return option("lstm", '"rnn" (tanh Elman), "relu" (ReLU Elman), "lstm", "gru", or the parallel-scan "mingru" / '
                  '"minlstm"', choices=CELLS)


def engine_option():
    """The ``engine`` field every job's config has."""
    return option("auto", "the engine that runs the time loop", choices=ENGINE_NAMES)


def init_option():
    """The ``init`` field every job's config has."""
    return option("default", "the initialisation", choices=INIT_NAMES)


@dataclass
class Built:
    """What a job builds from its config: the Trainer's task and model, and the checkpoint's run values."""

    config: object  # the job's Config
    task: object  # the task served to the Trainer
    model: object  # the torch module
    run_fields: dict  # plain values stored in the checkpoint; task_*/model_* keys must match on resume
    extra: dict = field(default_factory=dict)  # what the report needs (texts, baselines, ...)


@dataclass
class Restored:
    """A trained model back from a checkpoint, with what it needs to read new data."""

    config: object  # the job's Config, as trained
    model: object  # the torch module with the checkpoint's weights, in eval mode
    transforms: dict  # the data transforms fitted on the training part (vocabulary, mean/std, classes)
    step: int  # optimizer steps the checkpoint had taken


@dataclass(frozen=True)
class EvalOptions:
    """How ``rnnkit eval`` scores a checkpoint (jobs that score a whole split use only ``device``)."""

    batches: int = 10  # generated tasks: how many batches
    batch_size: int | None = None  # generated tasks: sequences per batch (None: the training batch size)
    device: str = "cpu"  # where the model runs


def checkpoint_fields(config, **values) -> dict:
    """The run values a job stores in its checkpoints: its config (``job``) and ``values``."""
    return {"job": asdict(config), **values}


def restore_config(config_class, name: str, ckpt: dict, path):
    """The ``name`` job's config stored in a checkpoint (CheckpointError if it is missing or does not fit)."""
    try:
        return config_class(**ckpt["config"]["job"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks a valid {name} config: {exc}") from None


def load_weights(model, ckpt: dict, path) -> None:
    """Load the checkpoint's weights into ``model`` (CheckpointError with one line if they do not fit)."""
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = " ".join(str(exc).split())
        raise CheckpointError(f"checkpoint {path} does not fit its own model config: {first[:300]}") from None
    model.eval()


def load_for(path, task: str, command: str) -> dict:
    """A checkpoint of ``task``; CheckpointError with one line if it is missing, bad, or of another task."""
    ckpt = load_checkpoint(path)
    found = ckpt["config"].get("task")  # load_checkpoint has checked that config is a dict
    if found != task:
        raise CheckpointError(f"checkpoint {path} was written for task {found!r}; rnnkit {command} needs a "
                              f"checkpoint of task {task!r} (rnnkit train --task {task})")
    return ckpt


def config_keys(job) -> list[str]:
    return [f.name for f in fields(job.Config)]


TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig))


def from_mapping(job, values: dict, source: str):
    """``(job.Config, TrainConfig)`` from flat ``values``; ValueError naming the valid keys for an unknown one."""
    job_keys = config_keys(job)
    values = {k: v for k, v in values.items() if k != "task"}
    unknown = sorted(set(values) - set(job_keys) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
                         f"--task {job.NAME}; valid keys are {', '.join(['task', *job_keys, *TRAIN_KEYS])}")
    train = TrainConfig(**{**job.TRAIN_DEFAULTS, **{k: v for k, v in values.items() if k in TRAIN_KEYS}})
    return job.Config(**{k: v for k, v in values.items() if k in job_keys}), train


def resumed_values(path, given: dict) -> tuple[dict, list]:
    """The flat values that resume the run in checkpoint ``path``: its own settings, with ``given`` (a TOML
    file's and the flags') winning; and the ``"key old -> new"`` changes ``given`` makes to them.
    CheckpointError with one line if the checkpoint is bad or of another task."""
    ckpt = load_checkpoint(path, required=RESUME)
    task = ckpt["config"].get("task")
    if given.get("task", task) != task:
        raise CheckpointError(f"checkpoint {path} was written for task={task!r}, this run has task={given['task']!r}")
    saved = {"task": task}
    for part in ("job", "train"):
        if not isinstance(ckpt["config"].get(part), dict):
            raise CheckpointError(f"checkpoint {path}: its config lacks the run's {part!r} settings "
                                  f"(written by another program, or damaged)")
        saved.update(ckpt["config"][part])
    changes = [f"{k.replace('_', '-')} {saved[k]} -> {v}" for k, v in given.items() if k in saved and saved[k] != v]
    return {**saved, **given}, changes


def to_mapping(config, train: TrainConfig) -> dict:
    """The flat values of a job config and a training config (inverse of :func:`from_mapping`)."""
    return {**asdict(config), **asdict(train)}


def read_toml(path) -> dict:
    """The flat key/value table of a TOML file (ValueError with one line if it is unreadable)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    if not os.path.exists(path):
        raise ValueError(f"config file {path} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"config file {path} is a directory")
    try:
        table = tomllib.loads(read_bytes(path, "config file").decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    nested = [k for k, v in table.items() if isinstance(v, dict)]
    if nested:
        raise ValueError(f"config file {path}: expected flat keys, got table(s) {', '.join(nested)}")
    return table


def report_weights(trainer, result, on: str = "best") -> str:
    """Load the weights the report is about into ``trainer.raw_model``, and the line that says which.

    ``on="best"``: those of ``out_dir/best.pt`` (the best validation loss) when they differ
    from the last step's; ``"last"``: the weights training ended with.
    """
    best = None if trainer.out_dir is None else trainer.out_dir / "best.pt"
    if result.best_step is None or best is None or not best.exists():
        return f"report on the last weights (step {result.step}; no validation kept a best.pt)"
    if result.best_step == result.step:
        return f"report on the last weights (step {result.step}), also the best by validation: {best}"
    if on == "last":
        return (f"report on the last weights (step {result.step}, val loss {result.val_loss:.6g}); the best, "
                f"step {result.best_step} with val loss {result.best_val:.6g}, is in {best}")
    trainer.raw_model.load_state_dict(load_checkpoint(best)["model"])
    return (f"report on the best weights by validation: step {result.best_step}, val loss {result.best_val:.6g} "
            f"({best}; the last step, {result.step}, had {result.val_loss:.6g}; --report-on last for those)")
