"""``--task adding|copy|recall|lookahead|horizon``: the generated long-range tasks (:mod:`rnnkit.data.tasks`).

One job per task, all with the same config: the task's length and data seed, and a
:class:`~rnnkit.models.SequenceModel` (recurrent stack and a read-out at every step).
The data is a pure function of the seed, so a checkpoint restores everything from its
config and ``rnnkit eval`` scores freshly generated held-out batches beside the task's
memoryless baseline.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rnnkit._fields import check_fields, option
from rnnkit.data.tasks import TASKS, LookaheadTask, RecallTask
from rnnkit.jobs.base import (Built, EvalOptions, Restored, cell_option, checkpoint_fields, engine_option,
                              init_option, load_weights)
from rnnkit.models import SequenceModel
from rnnkit.train.checkpoint import CheckpointError
from rnnkit.train.config import TrainConfig

@dataclass(frozen=True)
class SyntheticConfig:
    """A run on a generated task: the task's settings and the model."""

    length: int = option(100, "the task's T (adding: sequence length; copy: delay; recall, lookahead: steps; "
                         "horizon: the lag k)",
                         minimum=2)
    batch_size: int = option(64, "sequences per batch (per process under DDP)", minimum=1)
    data_seed: int = option(0, "seed of the generated data (or of the windows' positions)", minimum=0)
    gap: int = option(20, "recall: the marked value lies at least this many steps before the end", minimum=1)
    shift: int = option(3, "lookahead: the target is the input this many steps ahead", minimum=1)
    cell: str = cell_option()
    hidden_size: int = option(64, "H", minimum=1)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1)
    engine: str = engine_option()
    init: str = init_option()

    def __post_init__(self) -> None:
        check_fields(self)


class SyntheticJob:
    """The job of one generated task class of :data:`rnnkit.data.tasks.TASKS`."""

    Config = SyntheticConfig
    TRAIN_DEFAULTS: dict = {}

    def __init__(self, name: str) -> None:
        self.NAME = name

    def __repr__(self) -> str:
        return f"SyntheticJob({self.NAME!r})"

    def make_task(self, config: SyntheticConfig):
        """The task with the config's length, batch size and seed (and gap or shift where it has one)."""
        extra = {RecallTask: {"gap": config.gap}, LookaheadTask: {"shift": config.shift}}.get(TASKS[self.NAME], {})
        task = TASKS[self.NAME](length=config.length, batch_size=config.batch_size, seed=config.data_seed, **extra)
        task.batch("train", 0)  # validates every setting now, with the task's own message
        return task

    def make_model(self, config: SyntheticConfig, task) -> SequenceModel:
        return SequenceModel(config.cell, task.input_size, config.hidden_size, task.output_size, config.num_layers,
                             engine=config.engine, init=None if config.init == "default" else config.init)

    def build(self, config: SyntheticConfig) -> Built:
        task = self.make_task(config)
        run_fields = checkpoint_fields(
            config, task_length=config.length, batch_size=config.batch_size, data_seed=config.data_seed,
            model_cell=config.cell, model_hidden_size=config.hidden_size, model_num_layers=config.num_layers,
            model_input_size=task.input_size, model_output_size=task.output_size, engine=config.engine,
            init=config.init)
        return Built(config, task, self.make_model(config, task), run_fields)

    def restore(self, ckpt: dict, path) -> Restored:
        config = self.config_of(ckpt, path)
        model = self.make_model(config, self.make_task(config))
        load_weights(model, ckpt, path)
        return Restored(config, model, {}, int(ckpt.get("step", 0)))

    def config_of(self, ckpt: dict, path) -> SyntheticConfig:
        """The config stored in a checkpoint; also reads checkpoints written before configs were stored whole."""
        saved = ckpt.get("config")
        try:
            if "job" in saved:
                return SyntheticConfig(**saved["job"])
            return SyntheticConfig(length=saved["task_length"], batch_size=saved["batch_size"],
                                   data_seed=saved["data_seed"], cell=saved["model_cell"],
                                   hidden_size=saved["model_hidden_size"], num_layers=saved["model_num_layers"],
                                   engine=saved.get("engine", "auto"), init=saved.get("init", "default"))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path} lacks a valid {self.NAME} config: {exc}") from None

    def evaluate(self, restored: Restored, split: str, options: EvalOptions) -> list[str]:
        """Mean loss and metric over ``options.batches`` fresh batches of ``split``, beside the baseline."""
        from rnnkit.train import Trainer

        config = restored.config
        if options.batch_size is not None:
            config = replace(config, batch_size=options.batch_size)
        task = self.make_task(config)
        trainer = Trainer(restored.model, task, TrainConfig(progress=False, tensorboard=False), None,
                          device=options.device)
        loss, metric = trainer.evaluate(split, options.batches)
        return [f"{task.name} length {task.length}, {config.cell} H={config.hidden_size}, step {restored.step}: "
                f"{split} loss {loss:.6g}, {task.metric_name} {metric:.6g} over {options.batches * task.batch_size} "
                f"sequences (memoryless baseline loss {task.baseline:.6g})"]

    def report(self, trainer, built: Built) -> list[str]:
        """Nothing beyond the Trainer's own closing line: the validation loss is the score."""
        return []


JOBS = tuple(SyntheticJob(name) for name in TASKS)
