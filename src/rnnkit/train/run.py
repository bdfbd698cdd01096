"""RunConfig: one training run (task, model, training) as flat fields, from flags or TOML.

The CLI flags and a ``--config run.toml`` file hold the same flat fields: the ones
below plus every field of :class:`~rnnkit.train.TrainConfig`. Unknown keys and values
of the wrong type are rejected, naming the valid keys or the expected type.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields

from rnnkit.data.tasks import TASKS, make_task
from rnnkit.models import LAYERS, SequenceModel
from rnnkit.train.config import TrainConfig, _check_type


@dataclass(frozen=True)
class RunConfig:
    """A whole run: which task, which model, how to train."""

    task: str = "adding"  # one of rnnkit.data.tasks.TASKS
    length: int = 100  # the task's T (adding: sequence length; copy: delay)
    batch_size: int = 64  # sequences per batch (per process under DDP)
    data_seed: int = 0  # seed of the generated data
    cell: str = "lstm"  # "rnn" (tanh), "lstm" or "gru"
    hidden_size: int = 64  # H
    num_layers: int = 1  # stacked recurrent layers
    engine: str = "auto"  # engine name, one of rnnkit.kernels.ENGINE_NAMES
    init: str = "default"  # initialisation name, one of rnnkit.init.INIT_NAMES
    train: TrainConfig = field(default_factory=TrainConfig)  # the training loop's settings

    def __post_init__(self) -> None:
        from rnnkit.init import INIT_NAMES
        from rnnkit.kernels import ENGINE_NAMES

        for f in fields(self):
            if f.name != "train":
                _check_type(f.name, getattr(self, f.name), f.type)
        for name, choices in (("task", tuple(TASKS)), ("cell", tuple(LAYERS)), ("engine", ENGINE_NAMES),
                              ("init", INIT_NAMES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"RunConfig: unknown {name} {getattr(self, name)!r}; "
                                 f"valid values are {', '.join(choices)}")

    def run_fields(self) -> dict:
        """Plain values stored in checkpoints; ``task_*``/``model_*`` keys must match on resume."""
        task = self.make_task()
        return {"task_length": self.length, "batch_size": self.batch_size, "data_seed": self.data_seed,
                "model_cell": self.cell, "model_hidden_size": self.hidden_size,
                "model_num_layers": self.num_layers, "model_input_size": task.input_size,
                "model_output_size": task.output_size, "engine": self.engine, "init": self.init}

    def make_task(self):
        return make_task(self.task, self.length, self.batch_size, self.data_seed)

    def make_model(self) -> SequenceModel:
        task = self.make_task()
        return SequenceModel(self.cell, task.input_size, self.hidden_size, task.output_size, self.num_layers,
                             engine=self.engine, init=None if self.init == "default" else self.init)


RUN_KEYS = tuple(f.name for f in fields(RunConfig) if f.name != "train")
TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig))
VALID_KEYS = RUN_KEYS + TRAIN_KEYS


def from_mapping(values: dict, source: str = "config") -> RunConfig:
    """A RunConfig from flat ``values``; ValueError naming the valid keys if one is unknown."""
    unknown = sorted(set(values) - set(VALID_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"valid keys are {', '.join(VALID_KEYS)}")
    train = TrainConfig(**{k: v for k, v in values.items() if k in TRAIN_KEYS})
    return RunConfig(**{k: v for k, v in values.items() if k in RUN_KEYS}, train=train)


def to_mapping(run: RunConfig) -> dict:
    """The flat fields of ``run`` (inverse of :func:`from_mapping`)."""
    flat = {k: v for k, v in asdict(run).items() if k != "train"}
    return {**flat, **asdict(run.train)}


def read_toml(path) -> dict:
    """The flat key/value table of a TOML file (ValueError with one line if it is unreadable)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"config file {path} is a directory") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    nested = [k for k, v in table.items() if isinstance(v, dict)]
    if nested:
        raise ValueError(f"config file {path}: expected flat keys, got table(s) {', '.join(nested)}")
    return table
