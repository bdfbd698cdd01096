"""TrainConfig: every knob of the training loop, in one frozen dataclass."""
from __future__ import annotations

import numbers
from dataclasses import dataclass, fields

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation, truncation, clipping, penalty, evaluation, checkpoints, logs.

    A step is one optimizer update: one batch under full BPTT, one window of ``tbptt``
    steps under truncated BPTT.
    """

    steps: int = 3000  # optimizer steps to run in total
    optimizer: str = "adam"  # one of OPTIMIZERS
    lr: float = 0.005  # peak learning rate
    weight_decay: float = 0.0  # L2 (adam, sgd, rmsprop) or decoupled (adamw) weight decay
    momentum: float = 0.0  # momentum of sgd and rmsprop
    schedule: str = "constant"  # after warm-up: one of SCHEDULES
    warmup_steps: int = 0  # linear warm-up from lr/warmup_steps to lr over this many steps
    min_lr: float = 0.0  # the cosine schedule's final learning rate
    step_size: int = 1000  # step schedule: multiply lr by gamma every step_size steps
    gamma: float = 0.1  # step schedule: the factor
    tbptt: int | None = None  # truncated BPTT window k in time steps; None = full BPTT
    clip_norm: float | None = 1.0  # rescale the gradient to this global L2 norm when above; None = off
    clip_value: float | None = None  # clamp each gradient entry to [-v, v]; None = off
    penalty: float = 0.0  # weight of the vanishing-gradient regulariser Omega; 0 = off
    eval_every: int = 200  # validate every this many steps (and at the end); 0 = only at the end
    eval_batches: int = 4  # validation batches per evaluation
    patience: int = 0  # stop after this many evaluations without a better val loss; 0 = never
    target_loss: float | None = None  # stop as soon as the val loss falls below this; None = never
    max_minutes: float | None = None  # stop (after a checkpoint) once this much wall time has passed
    checkpoint_every: int = 500  # write a checkpoint every this many steps (and at the end); 0 = only at the end
    nonfinite_factor: float = 0.5  # multiply lr by this after a step with a NaN/Inf loss or gradient
    max_nonfinite: int = 5  # stop after this many non-finite steps in a row
    log_every: int = 1  # write a CSV/TensorBoard row every this many steps
    seed: int = 0  # seed of the model's initial weights and of dropout
    progress: bool = True  # show a progress bar
    tensorboard: bool = True  # write TensorBoard events when the tensorboard package is installed

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
        _positive = ("steps", "eval_batches", "step_size", "max_nonfinite", "log_every")
        for name in _positive:
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig: expected {name} >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "eval_every", "patience", "checkpoint_every", "lr", "weight_decay",
                     "momentum", "min_lr", "penalty"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig: expected {name} >= 0, got {getattr(self, name)}")
        for name in ("tbptt", "clip_norm", "clip_value", "max_minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"TrainConfig: expected {name} > 0 or None, got {value}")
        if not 0.0 < self.nonfinite_factor < 1.0:
            raise ValueError(f"TrainConfig: expected nonfinite_factor in (0, 1), got {self.nonfinite_factor}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"TrainConfig: expected gamma in (0, 1], got {self.gamma}")
        for name, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"TrainConfig: unknown {name} {getattr(self, name)!r}; "
                                 f"valid values are {', '.join(choices)}")


_TYPES = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,)}


def _check_type(name: str, value, annotation: str) -> None:
    """Check ``value`` against a field annotation such as ``'int | None'`` (bools are not numbers)."""
    allowed = [a.strip() for a in str(annotation).split("|")]
    if value is None and "None" in allowed:
        return
    for kind in allowed:
        types = _TYPES.get(kind, ())
        if kind != "bool" and isinstance(value, bool):
            continue
        if isinstance(value, types) or (kind == "float" and isinstance(value, numbers.Real)
                                        and not isinstance(value, bool)):
            return
    raise TypeError(f"TrainConfig: expected {name} to be {' or '.join(allowed)}, "
                    f"got {type(value).__name__} {value!r}")
