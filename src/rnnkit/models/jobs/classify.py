"""``--task classify``: sequence classification of the bundled digit strokes or any NPZ/CSV of labelled sequences.

Inputs are standardised per feature with the training part's mean and standard
deviation (stored in the checkpoint). After training it reports test accuracy, over
every test sequence, beside the majority-class baseline (always answering the most
frequent training label).
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from rnnkit.data.sequences import ClassifyTask, Sequences, digit_strokes, masked_batch, read_sequences
from rnnkit.models.classifier import POOLING, LengthsFromMask, SequenceClassifier
from rnnkit.models.jobs import Built, check_config, load_weights, restore_config

NAME = "classify"
BUNDLED_SET = "digits"
TRAIN_DEFAULTS = {"steps": 1500, "lr": 0.005, "eval_every": 250, "eval_batches": 5, "checkpoint_every": 500}


@dataclass(frozen=True)
class Config:
    """A classification run: the sequences, the model."""

    sequences: str = BUNDLED_SET  # classify: an .npz or .csv of labelled sequences, or "digits" (bundled)
    val_fraction: float = 0.15  # classify: share of the sequences used for validation
    test_fraction: float = 0.15  # classify: share of the sequences held out for testing
    batch_size: int = 64  # sequences per batch
    data_seed: int = 0  # seed of the split and of the training batches
    cell: str = "lstm"  # "rnn" (tanh), "lstm" or "gru"
    hidden_size: int = 64  # H
    num_layers: int = 1  # stacked recurrent layers
    bidirectional: bool = False  # classify: read each sequence both ways (the backward pass starts at its end)
    pooling: str = "last"  # classify: "last" (final states) or "mean" (mean output over the sequence's steps)
    engine: str = "auto"  # engine name, one of rnnkit.kernels.ENGINE_NAMES
    init: str = "default"  # initialisation name, one of rnnkit.init.INIT_NAMES

    def __post_init__(self) -> None:
        check_config(self)
        if self.pooling not in POOLING:
            raise ValueError(f"--pooling: expected one of {', '.join(POOLING)}, got {self.pooling!r}")


def load_sequences(config: Config, path: str | None = None) -> Sequences:
    source = config.sequences if path is None else path
    return digit_strokes() if source == BUNDLED_SET else read_sequences(source)


def standardise(data: Sequences, mean: np.ndarray, std: np.ndarray) -> Sequences:
    return replace(data, items=tuple(((a - mean) / std).astype(np.float32) for a in data.items))


def make_model(config: Config, features: int, classes: int) -> LengthsFromMask:
    return LengthsFromMask(SequenceClassifier(
        features, config.hidden_size, classes, config.num_layers, cell=config.cell,
        bidirectional=config.bidirectional, pooling=config.pooling, engine=config.engine,
        init=None if config.init == "default" else config.init))


def build(config: Config) -> Built:
    """Read and split the sequences, standardise them with the training part's statistics, build the model."""
    data = load_sequences(config)
    split = ClassifyTask(data, config.batch_size, config.data_seed, config.val_fraction, config.test_fraction)
    steps = np.concatenate([data.items[i] for i in split.parts["train"].tolist()])  # (sum L, F)
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    task = replace(split, data=standardise(data, mean, std))
    run_fields = {"job": asdict(config), "task_classes": list(data.classes), "task_mean": mean.tolist(),
                  "task_std": std.tolist(), "model_cell": config.cell, "model_hidden_size": config.hidden_size,
                  "model_num_layers": config.num_layers, "model_bidirectional": config.bidirectional,
                  "model_pooling": config.pooling, "model_input_size": data.features}
    return Built(config, task, make_model(config, data.features, len(data.classes)), run_fields, {})


def restore(ckpt: dict, path):
    """``(config, classes, mean, std, model)`` from a ``classify`` checkpoint."""
    config = restore_config(sys.modules[__name__], ckpt, path)
    saved = ckpt["config"]
    model = make_model(config, saved["model_input_size"], len(saved["task_classes"]))
    load_weights(model, ckpt, path)
    return config, tuple(saved["task_classes"]), np.array(saved["task_mean"]), np.array(saved["task_std"]), model


@torch.no_grad()
def predict(model, data: Sequences, indices: list, batch_size: int = 256) -> np.ndarray:
    """Predicted class of each sequence ``indices`` of ``data``, ``(n,)``."""
    model.eval()
    out = []
    for start in range(0, len(indices), batch_size):
        batch = masked_batch(data, indices[start:start + batch_size])
        logits, _ = model(batch.x)
        out.append(logits.argmax(dim=-1).numpy())
    return np.concatenate(out)


def scores(model, task: ClassifyTask, split: str) -> dict:
    """Accuracy on every sequence of ``split`` and the majority-class baseline's accuracy there."""
    indices = task.parts[split].tolist()
    truth = task.data.labels[indices]
    train_labels = task.data.labels[task.parts["train"].tolist()]
    majority = int(np.bincount(train_labels).argmax())
    return {"n": len(indices), "accuracy": float((predict(model, task.data, indices) == truth).mean()),
            "majority": float((truth == majority).mean()), "majority_class": task.data.classes[majority]}


def describe(result: dict, split: str) -> str:
    return (f"{split}: accuracy {result['accuracy']:.3f} over {result['n']} sequences "
            f"(majority class {result['majority_class']!r}: {result['majority']:.3f})")


def report(trainer, built: Built) -> list[str]:
    return [describe(scores(trainer.raw_model.cpu(), built.task, "test"), "test")]


def evaluate(ckpt: dict, path, split: str) -> list[str]:
    """``rnnkit eval``: accuracy on ``split`` of the sequences the checkpoint was trained on."""
    config, classes, mean, std, model = restore(ckpt, path)
    data = load_sequences(config)
    task = ClassifyTask(standardise(data, mean, std), config.batch_size, config.data_seed, config.val_fraction,
                        config.test_fraction)
    return [describe(scores(model, task, split), split)]
