"""Training: the Trainer loop (BPTT/TBPTT, clipping, guard), its hooks (penalty, ...), checkpoints, DDP, logs."""
from rnnkit.train.checkpoint import CheckpointError, atomic_save, load_checkpoint
from rnnkit.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
from rnnkit.train.hooks import Callback, Hook
from rnnkit.train.penalty import VanishingGradientPenalty, vanishing_gradient_penalty
from rnnkit.train.trainer import Result, Trainer

__all__ = ["Trainer", "TrainConfig", "Result", "CheckpointError", "atomic_save", "load_checkpoint",
           "Hook", "Callback", "VanishingGradientPenalty", "vanishing_gradient_penalty", "OPTIMIZERS", "SCHEDULES"]
