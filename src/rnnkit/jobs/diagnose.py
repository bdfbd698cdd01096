"""What ``rnnkit diagnose`` measures: a fresh model on a generated task, or a trained synthetic-task checkpoint.

Either way it returns the model, the task whose validation batch 0 is measured, and the
facts the report starts with (task, length, sizes, init, where the weights came from).
"""
from __future__ import annotations

from dataclasses import replace

import torch

from rnnkit.init import Chrono
from rnnkit.jobs import synthetic
from rnnkit.jobs.base import Restored
from rnnkit.models import SequenceModel
from rnnkit.train.checkpoint import CheckpointError, load_checkpoint

INITS = ("auto", "default", "orthogonal", "identity", "xavier", "chrono")


def fresh(task: str, cell: str, length: int, hidden_size: int, num_layers: int, init: str, batch_size: int,
          seed: int) -> tuple[SequenceModel, object, dict]:
    """A model with fresh weights (``seed``); ``init="auto"``: chrono (max_len = length) for LSTMs, else torch.nn's."""
    job = synthetic.SyntheticJob(task)
    data = job.make_task(synthetic.SyntheticConfig(length=length, batch_size=batch_size))
    if init == "auto":
        init = "chrono" if cell == "lstm" else "default"
    scheme = Chrono(max_len=max(length, 3)) if init == "chrono" else None if init == "default" else init
    torch.manual_seed(seed)
    model = SequenceModel(cell, data.input_size, hidden_size, data.output_size, num_layers, init=scheme)
    name = f"chrono(max_len={scheme.max_len})" if isinstance(scheme, Chrono) else init
    return model, data, {"task": task, "length": length, "hidden_size": hidden_size, "num_layers": num_layers,
                         "init": name, "seed": seed, "model": "fresh"}


def from_checkpoint(path, batch_size: int) -> tuple[SequenceModel, object, dict]:
    """The model of a synthetic-task checkpoint and its task with ``batch_size`` sequences per batch."""
    ckpt = load_checkpoint(path)
    name = ckpt["config"].get("task")  # load_checkpoint has checked that config is a dict
    if name not in {job.NAME for job in synthetic.JOBS}:
        raise CheckpointError(f"checkpoint {path} was written for task {name!r}; only synthetic-task checkpoints "
                              f"({', '.join(job.NAME for job in synthetic.JOBS)}) can be diagnosed")
    job = synthetic.SyntheticJob(name)
    restored: Restored = job.restore(ckpt, path)
    config = restored.config
    task = job.make_task(replace(config, batch_size=batch_size))
    return restored.model, task, {"task": name, "length": config.length, "hidden_size": config.hidden_size,
                                  "num_layers": config.num_layers, "init": config.init,
                                  "model": f"{path} (step {restored.step})"}
