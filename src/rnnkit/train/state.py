"""What a Trainer's checkpoint holds, and putting it back: weights, optimizer, schedule, RNG, data position.

:func:`trainer_state` gathers everything needed to resume exactly as plain containers of
tensors and numbers (so :func:`~rnnkit.train.checkpoint.load_checkpoint` can read it with
``weights_only=True``); :func:`restore` puts a checkpoint back into a Trainer, refusing one
written for another task or model shape.
"""
from __future__ import annotations

from rnnkit._state import map_state
from rnnkit.train.optim import retune
from rnnkit.train.checkpoint import (FORMAT, RESUME, CheckpointError, check_run, load_checkpoint, rng_state,
                                     set_rng_state)


def trainer_state(trainer) -> dict:
    """Everything needed to resume ``trainer`` exactly."""
    import rnnkit

    return {"format": FORMAT, "rnnkit_version": rnnkit.__version__, "step": trainer.step,
            "position": list(trainer.position), "model": trainer.raw_model.state_dict(),
            "optimizer": trainer.optimizer.state_dict(), "scheduler": trainer.scheduler.state_dict(),
            "rng": rng_state(), "config": trainer.run_config, "carry": trainer.carry,
            "trainer": {"best_val": trainer.best_val, "best_step": trainer.best_step,
                        "bad_evals": trainer.bad_evals, "nonfinite_streak": trainer.nonfinite_streak}}


def restore(trainer, path) -> None:
    """Put the checkpoint at ``path`` back into ``trainer``; :class:`CheckpointError` if it does not fit."""
    ckpt = load_checkpoint(path, required=RESUME)
    check_run(ckpt, trainer.run_config, path)
    saved = ckpt["config"].get("train")
    saved = saved if isinstance(saved, dict) else {}
    cfg = trainer.config
    if saved.get("optimizer", cfg.optimizer) != cfg.optimizer:
        raise CheckpointError(f"checkpoint {path} was written with optimizer={saved['optimizer']!r}, this run has "
                              f"optimizer={cfg.optimizer!r}; a resumed run keeps its optimizer (and its moments)")
    try:
        trainer.raw_model.load_state_dict(ckpt["model"])
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        trainer.scheduler.load_state_dict(ckpt["scheduler"])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = " ".join(str(exc).split())
        raise CheckpointError(f"checkpoint {path} does not fit this model: {first[:300]}") from None
    retune(trainer.optimizer, trainer.scheduler, cfg, saved)  # the settings this run was given win
    try:
        set_rng_state(ckpt["rng"])
        t = ckpt["trainer"]
        counters = (float(t["best_val"]), int(t["bad_evals"]), int(t["nonfinite_streak"]))
        position = [int(p) for p in ckpt["position"]]
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path}: its RNG state or trainer counters are damaged "
                              f"({type(exc).__name__}: {str(exc)[:120]})") from None
    trainer.step, trainer.position = ckpt["step"], position
    carry = ckpt.get("carry")
    carry = tuple(carry) if isinstance(carry, list) else carry
    trainer.carry = None if carry is None else map_state(lambda c: c.to(trainer.ctx.device), carry)
    trainer.best_val, trainer.bad_evals, trainer.nonfinite_streak = counters
    trainer.best_step = t.get("best_step")  # absent in checkpoints written before best.pt was kept
