r"""Optimizers and learning-rate schedules named in :class:`~rnnkit.train.TrainConfig`.

The learning rate at step ``s`` (0-based) is ``lr * f(s)`` with

- warm-up, ``s < W``: :math:`f(s) = (s + 1) / W`;
- ``constant``: :math:`f = 1`;
- ``cosine``: :math:`f = m + (1 - m)\,\tfrac12\,(1 + \cos(\pi\,p))`, with
  :math:`p = (s - W) / (S - W)` the fraction of post-warm-up steps done and
  :math:`m = \mathrm{min\_lr} / \mathrm{lr}`;
- ``step``: :math:`f = \gamma^{\lfloor (s - W) / \mathrm{step\_size} \rfloor}`.

The schedule is a ``LambdaLR`` over a plain function, so its ``state_dict`` holds only
numbers and a checkpoint restores it exactly. A run resumed with other settings
(:func:`retune`) gets this config's learning rate, schedule, weight decay and momentum from
the restored step on; what the checkpoint restores is the optimizer's moments, the step,
and any learning-rate cuts made after non-finite steps.
"""
from __future__ import annotations

import math
from functools import partial

import torch

from rnnkit.train.config import TrainConfig


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``cfg.optimizer`` over ``params`` with ``cfg``'s lr, weight decay and momentum."""
    params = list(params)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """f(step): the multiplier of ``cfg.lr`` at 0-based ``step`` (see the module equations)."""
    warm = cfg.warmup_steps
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "cosine":
        progress = min(1.0, (step - warm) / max(1, cfg.steps - warm))
        floor = cfg.min_lr / cfg.lr if cfg.lr > 0 else 0.0
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.schedule == "step":
        return cfg.gamma ** ((step - warm) // cfg.step_size)
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step ``LambdaLR`` applying :func:`lr_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, cfg=cfg))


def scale_lr(optimizer: torch.optim.Optimizer, scheduler, factor: float) -> None:
    """Multiply the current and the base learning rates by ``factor`` (after a non-finite step)."""
    scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
    for group in optimizer.param_groups:
        group["lr"] *= factor


SCHEDULE_FIELDS = ("lr", "schedule", "warmup_steps", "min_lr", "step_size", "gamma", "steps")  # what f(s) reads


def retune(optimizer: torch.optim.Optimizer, scheduler, cfg: TrainConfig, saved: dict) -> None:
    """After loading a checkpoint written with the training settings ``saved`` (a dict of TrainConfig fields):
    apply ``cfg``'s learning rate, schedule, weight decay and momentum where they differ.

    The base learning rates keep the ratio to ``saved["lr"]`` that non-finite steps cut them to; the
    current rate becomes ``base * f(step)`` under ``cfg``. Settings that did not change touch nothing,
    so a run resumed as it was is bit-identical to one never stopped.
    """
    if any(saved.get(k, getattr(cfg, k)) != getattr(cfg, k) for k in SCHEDULE_FIELDS):
        old = saved.get("lr", cfg.lr)
        if old != cfg.lr:
            scheduler.base_lrs = [cfg.lr * (base / old) if old > 0 else cfg.lr for base in scheduler.base_lrs]
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
            group["initial_lr"], group["lr"] = base, base * lr_factor(scheduler.last_epoch, cfg)
    for group in optimizer.param_groups:
        group["weight_decay"] = cfg.weight_decay
        if "momentum" in group:
            group["momentum"] = cfg.momentum
