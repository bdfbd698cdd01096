"""TrainConfig: every knob of the training loop, in one frozen dataclass."""
from __future__ import annotations

from dataclasses import dataclass

from rnnkit._fields import check_fields, option

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation, truncation, clipping, penalty, evaluation, checkpoints, logs.

    A step is one optimizer update: one batch under full BPTT, one window of ``tbptt``
    steps under truncated BPTT.
    """

    steps: int = option(3000, "optimizer steps to run in total")
    optimizer: str = option("adam", "the optimizer", choices=OPTIMIZERS)
    lr: float = option(0.005, "peak learning rate")
    weight_decay: float = option(0.0, "L2 (adam, sgd, rmsprop) or decoupled (adamw) weight decay")
    momentum: float = option(0.0, "momentum of sgd and rmsprop")
    schedule: str = option("constant", "the learning-rate schedule after warm-up", choices=SCHEDULES)
    warmup_steps: int = option(0, "linear warm-up from lr/warmup_steps to lr over this many steps")
    min_lr: float = option(0.0, "the cosine schedule's final learning rate")
    step_size: int = option(1000, "step schedule: multiply lr by gamma every step_size steps")
    gamma: float = option(0.1, "step schedule: the factor")
    tbptt: int | None = option(None, "truncated BPTT window k in time steps; none: full BPTT")
    clip_norm: float | None = option(1.0, "rescale the gradient to this global L2 norm when above; none: off")
    clip_value: float | None = option(None, "clamp each gradient entry to [-v, v]; none: off")
    penalty: float = option(0.0, "weight of the vanishing-gradient regulariser Omega; 0 = off")
    eval_every: int = option(200, "validate every this many steps (and at the end); 0 = only at the end")
    eval_batches: int = option(4, "validation batches per evaluation")
    patience: int = option(0, "stop after this many evaluations without a better val loss; 0 = never")
    target_loss: float | None = option(None, "stop as soon as the val loss falls below this; none: never")
    max_minutes: float | None = option(None, "stop (after a checkpoint) once this much wall time has passed; none: no limit")
    checkpoint_every: int = option(500, "write a checkpoint every this many steps (and at the end); 0 = only at the end")
    nonfinite_factor: float = option(0.5, "multiply lr by this after a step with a NaN/Inf loss or gradient")
    max_nonfinite: int = option(5, "stop after this many non-finite steps in a row")
    log_every: int = option(1, "write a CSV/TensorBoard row every this many steps")
    seed: int = option(0, "seed of the model's initial weights and of dropout")
    deterministic: bool = option(False, "bit-identical runs: seed every generator and use deterministic kernels "
                                        "(rnnkit.set_deterministic)")
    progress: bool = option(True, "show a progress bar")
    tensorboard: bool = option(True, "write TensorBoard events when the tensorboard package is installed")

    def __post_init__(self) -> None:
        check_fields(self)
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
