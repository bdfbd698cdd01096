"""``--task classify``: sequence classification of the bundled digit strokes or any NPZ/CSV of labelled sequences.

Inputs are standardised per feature with the training part's mean and standard
deviation (stored in the checkpoint). After training it reports test accuracy, over
every test sequence, beside the majority-class baseline (always answering the most
frequent training label).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace

import numpy as np
import torch

from rnnkit._fields import check_fields, option
from rnnkit._write import atomic_write
from rnnkit.data.sequences import ClassifyTask, Sequences, digit_strokes, masked_batch, read_sequences
from rnnkit.jobs.base import (Built, EvalOptions, Restored, cell_option, checkpoint_fields, engine_option,
                              init_option, load_weights, restore_config)
from rnnkit.models.classifier import POOLING, LengthsFromMask, SequenceClassifier
from rnnkit.train.checkpoint import CheckpointError

NAME = "classify"
BUNDLED_SET = "digits"
TRAIN_DEFAULTS = {"steps": 1500, "lr": 0.005, "eval_every": 250, "eval_batches": 5, "checkpoint_every": 500}


@dataclass(frozen=True)
class ClassifyConfig:
    """A classification run: the sequences, the model."""

    sequences: str = option(BUNDLED_SET, "classify: an .npz or .csv of labelled sequences, or \"digits\" (bundled)")
    val_fraction: float = option(0.15, "classify: share of the sequences used for validation")
    test_fraction: float = option(0.15, "classify: share of the sequences held out for testing")
    batch_size: int = option(64, "sequences per batch", minimum=1)
    data_seed: int = option(0, "seed of the split and of the training batches", minimum=0)
    cell: str = cell_option()
    hidden_size: int = option(64, "H", minimum=1)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1)
    bidirectional: bool = option(False, "classify: read each sequence both ways (the backward pass starts at its end)")
    pooling: str = option("last", "classify: \"last\" (final states) or \"mean\" (mean output over the sequence's steps)",
                          choices=POOLING)
    engine: str = engine_option()
    init: str = init_option()

    def __post_init__(self) -> None:
        check_fields(self)


Config = ClassifyConfig


def load_sequences(config: ClassifyConfig, path: str | None = None) -> Sequences:
    source = config.sequences if path is None else path
    return digit_strokes() if source == BUNDLED_SET else read_sequences(source)


def standardise(data: Sequences, mean: np.ndarray, std: np.ndarray) -> Sequences:
    return replace(data, items=tuple(((a - mean) / std).astype(np.float32) for a in data.items))


def make_model(config: ClassifyConfig, features: int, classes: int) -> LengthsFromMask:
    return LengthsFromMask(SequenceClassifier(
        features, config.hidden_size, classes, config.num_layers, cell=config.cell,
        bidirectional=config.bidirectional, pooling=config.pooling, engine=config.engine,
        init=None if config.init == "default" else config.init))


def build(config: ClassifyConfig) -> Built:
    """Read and split the sequences, standardise them with the training part's statistics, build the model."""
    data = load_sequences(config)
    split = ClassifyTask(data, config.batch_size, config.data_seed, config.val_fraction, config.test_fraction)
    steps = np.concatenate([data.items[i] for i in split.parts["train"].tolist()])  # (sum L, F)
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    task = replace(split, data=standardise(data, mean, std))
    majority = data.classes[int(np.bincount(data.labels[split.parts["train"].tolist()]).argmax())]
    run_fields = checkpoint_fields(config, task_classes=list(data.classes), task_majority=majority,
                                   task_mean=mean.tolist(), task_std=std.tolist(), model_cell=config.cell,
                                   model_hidden_size=config.hidden_size, model_num_layers=config.num_layers,
                                   model_bidirectional=config.bidirectional, model_pooling=config.pooling,
                                   model_input_size=data.features)
    return Built(config, task, make_model(config, data.features, len(data.classes)), run_fields, {})


def restore(ckpt: dict, path) -> Restored:
    """The model, its classes and the standardisation (``transforms``) from a ``classify`` checkpoint."""
    config = restore_config(ClassifyConfig, NAME, ckpt, path)
    saved = ckpt["config"]
    try:
        transforms = {"classes": tuple(saved["task_classes"]), "mean": np.array(saved["task_mean"], dtype=np.float64),
                      "std": np.array(saved["task_std"], dtype=np.float64),
                      "majority": saved.get("task_majority")}  # absent in checkpoints before it was stored
        features = int(saved["model_input_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks the classes or the standardisation: {exc}") from None
    model = make_model(config, features, len(transforms["classes"]))
    load_weights(model, ckpt, path)
    return Restored(config, model, transforms, int(ckpt.get("step", 0)))


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
    """Accuracy on every sequence of ``split``, and always answering the most frequent training label there."""
    indices = task.parts[split].tolist()
    train_labels = task.data.labels[task.parts["train"].tolist()]
    majority = task.data.classes[int(np.bincount(train_labels).argmax())]
    return {"predicted": predict(model, task.data, indices), "truth": task.data.labels[indices],
            "classes": task.data.classes, "majority": majority}


def describe(result: dict, split: str) -> str:
    return f"{split}: " + accuracy_line(result["predicted"], result["truth"], result["classes"], result["majority"])


def report(trainer, built: Built) -> list[str]:
    return [describe(scores(trainer.raw_model.cpu(), built.task, "test"), "test")]


def evaluate(restored: Restored, split: str, options: EvalOptions) -> list[str]:
    """``rnnkit eval``: accuracy on ``split`` of the sequences the checkpoint was trained on."""
    config, t = restored.config, restored.transforms
    data = load_sequences(config)
    task = ClassifyTask(standardise(data, t["mean"], t["std"]), config.batch_size, config.data_seed,
                        config.val_fraction, config.test_fraction)
    return [describe(scores(restored.model, task, split), split)]


def labelled(restored: Restored, path: str | None) -> tuple[Sequences, list[int]]:
    """The sequences ``rnnkit classify`` labels, standardised and labelled in the model's classes,
    and the indices to label: the checkpoint's own test split (``path`` None) or every sequence of ``path``."""
    config, t = restored.config, restored.transforms
    classes = t["classes"]
    data = load_sequences(config, path)
    if data.features != t["mean"].size:
        raise ValueError(f"the sequences have {data.features} feature(s) per step, the model expects {t['mean'].size}")
    if path is None:
        split = ClassifyTask(data, config.batch_size, config.data_seed, config.val_fraction, config.test_fraction)
        indices, labels = split.parts["test"].tolist(), data.labels
    else:
        foreign = sorted(set(data.classes) - set(classes))
        if foreign:
            raise ValueError(f"label(s) {', '.join(map(repr, foreign))} are not among the model's classes "
                             f"{', '.join(map(repr, classes))}")
        index = {c: i for i, c in enumerate(classes)}
        labels = np.array([index[data.classes[k]] for k in data.labels], dtype=np.int64)
        indices = list(range(len(data.items)))  # every sequence of the file
    return replace(standardise(data, t["mean"], t["std"]), labels=labels, classes=classes), indices


def accuracy_line(predicted: np.ndarray, truth: np.ndarray, classes: tuple, majority: str | None) -> str:
    """Accuracy beside two constant answers: the most frequent training label (``majority``, the
    baseline a model must beat; None when unknown) and the most frequent label among these sequences."""
    here = int(np.bincount(truth, minlength=len(classes)).argmax())
    parts = []
    if majority is not None:
        share = float((truth == classes.index(majority)).mean()) if majority in classes else 0.0
        parts.append(f"always answering the most frequent training label {majority!r}: {share:.3f}")
    parts.append(f"the most frequent label here, {classes[here]!r}: {float((truth == here).mean()):.3f}")
    return (f"accuracy {float((predicted == truth).mean()):.3f} over {len(truth)} sequences "
            f"({'; '.join(parts)})")


def write_predictions(path, indices: list, truth: list, predicted: list) -> None:
    """``rnnkit classify``'s table: one row per sequence (index, true label, predicted label), as CSV."""
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(["index", "label", "predicted"])
    out.writerows(zip(indices, truth, predicted))
    atomic_write(path, text.getvalue())
