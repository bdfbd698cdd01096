"""The Trainer: forward, loss, zero-grad, backward, clip, step, in one readable loop.

It knows nothing of any particular model. A *task* supplies the data and the objective through named
methods — ``batch(split, index) -> Batch``, ``loss(output, batch)``, ``metric(output, batch)``,
``metric_name``, ``name`` — and the *model* is any module called as ``model(x, state, resets) -> (output,
state)``. Everything else plugs in as a named hook (:mod:`rnnkit.train.hooks`: around the forward, extra
objective terms, ``on_step_end``, ``on_eval_end``): ``add_hook(hook)``, or ``add_callback("on_step_end",
fn)`` for a plain function. ``config.penalty > 0`` adds the
:class:`~rnnkit.train.penalty.VanishingGradientPenalty` hook.

Full BPTT (``tbptt=None``) takes one step per batch. Truncated BPTT with window ``k``
cuts each batch into windows of ``k`` steps and takes one step per window; the final
state of window ``w`` is detached and becomes the initial state of window ``w + 1``
(``carry``); a new batch starts from zeros, and ``batch.resets`` zeroes single samples
where a sequence ends inside a streamed batch. A window without targets is run
forward only, to carry the state.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from rnnkit._determinism import set_deterministic
from rnnkit._state import detach
from rnnkit.train import distributed
from rnnkit.train.checkpoint import atomic_save
from rnnkit.train.config import TrainConfig
from rnnkit.train.logs import RunLog
from rnnkit.train.optim import build_optimizer, build_scheduler, scale_lr
from rnnkit.train.hooks import Callback, Hooks
from rnnkit.train.interrupt import stop_on_sigint
from rnnkit.train.penalty import VanishingGradientPenalty
from rnnkit.train.state import restore, trainer_state


@dataclass
class Result:
    """What :meth:`Trainer.fit` ended with."""

    stopped: str  # why it stopped: "done", "target", "early_stop", "time", "interrupted", "nonfinite"
    step: int  # optimizer steps taken in total
    history: list = field(default_factory=list)  # one dict per step of this call: step, loss, grad_norm, lr
    val_loss: float = math.nan  # the last validation loss
    val_metric: float = math.nan  # the last validation metric
    message: str = ""  # a line for the user
    best_val: float = math.inf  # the best validation loss so far (out_dir/best.pt holds its weights)
    best_step: int | None = None  # the step it was reached at, or None before any validation


def _total_norm(params) -> torch.Tensor:
    """Global L2 norm of the gradients, sqrt(sum_p ||grad_p||^2)."""
    norms = [torch.linalg.vector_norm(p.grad.detach()) for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


class Trainer:
    """Train ``model`` on ``task`` with ``config``; logs and checkpoints go to ``out_dir`` (None: none).

    ``run_config`` (plain values) is stored in every checkpoint next to the training config, so a checkpoint
    says which task and model shape it belongs to.
    """

    def __init__(self, model: torch.nn.Module, task, config: TrainConfig, out_dir=None, *,
                 run_config: dict | None = None, device=None) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"Trainer: expected config to be a TrainConfig, got {type(config).__name__}")
        if config.tbptt is not None and any(getattr(m, "bidirectional", False) is True for m in model.modules()):
            raise ValueError("Trainer: truncated BPTT cannot train a bidirectional model (its backward direction "
                             "reads each sequence from its end): leave tbptt unset")
        self.config, self.task = config, task
        self.out_dir = None if out_dir is None else Path(out_dir)
        if self.out_dir is not None and self.out_dir.exists() and not self.out_dir.is_dir():
            raise ValueError(f"Trainer: output directory {self.out_dir} exists and is a file, expected a directory")
        self.ctx = distributed.setup(device)
        self.raw_model = model.to(self.ctx.device)
        self.model = distributed.wrap(self.raw_model, self.ctx)
        self.optimizer = build_optimizer(self.raw_model.parameters(), config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.run_config = {"task": task.name, **(run_config or {}), "train": asdict(config)}
        self.step, self.position, self.carry = 0, [0, 0], None  # position: [batch, window]
        self.best_val, self.best_step, self.bad_evals, self.nonfinite_streak = math.inf, None, 0, 0
        self.hooks = Hooks()  # named hooks, see rnnkit.train.hooks
        self._stop_request = False
        self._windows = None  # (batch index, its TBPTT windows)
        self._resumed = False  # whether load() restored a checkpoint (then fit keeps its RNG state)
        if config.penalty > 0:
            self.add_hook(VanishingGradientPenalty(config.penalty))

    # -- hooks -------------------------------------------------------------------------
    def add_hook(self, hook) -> None:
        """Add a named hook (see :mod:`rnnkit.train.hooks`); its ``on_attach(trainer)`` runs now."""
        self.hooks.add(hook, self)

    def add_callback(self, event: str, fn) -> None:
        """Call ``fn(trainer)`` on ``event`` ("on_step_end" or "on_eval_end")."""
        self.add_hook(Callback(event, fn, f"callback {len(self.hooks)}: {event}"))

    def request_stop(self) -> None:
        """Stop after the current step and write a checkpoint (what Ctrl-C does)."""
        self._stop_request = True

    # -- the loop ----------------------------------------------------------------------
    def fit(self, resume=None) -> Result:
        """Train until ``config.steps`` (or a stop rule); ``resume`` is a checkpoint path to continue from."""
        cfg, task, ctx = self.config, self.task, self.ctx
        if cfg.deterministic:
            set_deterministic(cfg.seed + ctx.rank)
        if resume is not None:
            self.load(resume)
        elif not self._resumed:
            torch.manual_seed(cfg.seed + ctx.rank)
        if self.out_dir is not None and ctx.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        params = [p for p in self.raw_model.parameters() if p.requires_grad]
        log = RunLog(self.out_dir, enabled=ctx.main, total=cfg.steps, initial=self.step, progress=cfg.progress,
                     tensorboard=cfg.tensorboard, metric_name=task.metric_name,
                     budget_s=None if cfg.max_minutes is None else 60 * cfg.max_minutes)
        result = Result("done", self.step)
        start = tick = time.monotonic()
        try:
            with stop_on_sigint(self):
                while self.step < cfg.steps:
                    window = self._next_window()
                    if not window.has_targets:  # nothing to learn here: carry the state forward
                        with torch.no_grad():
                            _, state = self.model(window.x, self.carry, window.resets)
                        self.carry = detach(state)
                        continue
                    # ---- one step: forward, loss, zero-grad, backward, clip, step ----
                    self.model.train()
                    with self.hooks.around_forward(self):
                        output, state = self.model(window.x, self.carry, window.resets)
                    loss = task.loss(output, window)
                    objective = self.hooks.objective(self, loss)  # loss + every hook's extra term
                    self.optimizer.zero_grad(set_to_none=True)
                    objective.backward()
                    grad_norm = _total_norm(params)  # before any clipping
                    stats = distributed.all_sum(torch.tensor([loss.item(), float(not math.isfinite(loss.item()))]), ctx)
                    mean_loss, nonfinite = stats[0].item() / ctx.world, stats[1].item() > 0
                    if nonfinite or not math.isfinite(grad_norm.item()):
                        if self._nonfinite(log, mean_loss, grad_norm.item(), result):
                            break
                        continue
                    if cfg.clip_value is not None:
                        torch.nn.utils.clip_grad_value_(params, cfg.clip_value)
                    if cfg.clip_norm is not None:
                        torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.carry = detach(state)
                    self.step, self.nonfinite_streak = self.step + 1, 0
                    # ---- bookkeeping: logs, evaluation, checkpoints, stop rules ----
                    now = time.monotonic()
                    tokens = window.length * window.batch_size * ctx.world / max(now - tick, 1e-9)
                    tick = now
                    lr = self.optimizer.param_groups[0]["lr"]
                    metric = task.metric(output.detach(), window).item()
                    row = {"step": self.step, "loss": mean_loss, "grad_norm": grad_norm.item(), "lr": lr}
                    result.history.append(row)
                    if self.step % cfg.log_every == 0:
                        log.row(self.step, "train", loss=mean_loss, metric=metric, grad_norm=grad_norm.item(),
                                lr=lr, tokens_per_s=tokens)
                    log.progress(self.step, loss=mean_loss, **{task.metric_name: metric}, **{"tok/s": tokens})
                    self.hooks.fire("on_step_end", self)
                    stopped = self._after_step(log, result, start)
                    if stopped:
                        result.stopped = stopped
                        break
                else:
                    self._evaluate_into(log, result)
                    self.save(log)
        finally:
            log.close()
        result.step, result.best_val, result.best_step = self.step, self.best_val, self.best_step
        if not result.message:
            result.message = self._closing(result)
        return result

    def _closing(self, result: Result) -> str:
        """The line that says why the run stopped and how it scored."""
        cfg, step = self.config, self.step
        why = {"done": f"done at step {step} (the step budget)",
               "time": f"stopped at step {step}: the time budget of {cfg.max_minutes:g} minutes is spent"
                       if cfg.max_minutes is not None else "",
               "target": f"stopped at step {step}: the val loss fell below the target {cfg.target_loss}",
               "early_stop": f"stopped early at step {step}: {cfg.patience} evaluations without a better val loss",
               "interrupted": f"interrupted at step {step}"}[result.stopped]
        if math.isnan(result.val_loss):
            return f"{why}; no validation ran yet"
        return (f"{why}; val loss {result.val_loss:.6g}, val {self.task.metric_name} {result.val_metric:.6g} "
                f"(mean of {cfg.eval_batches} validation batch{'es' if cfg.eval_batches != 1 else ''})")

    def _next_window(self):
        """The window at the data position, advancing it; a new batch starts from zero state."""
        cfg, ctx = self.config, self.ctx
        b, w = self.position
        if self._windows is None or self._windows[0] != b:
            batch = self.task.batch("train", b * ctx.world + ctx.rank).to(ctx.device)
            self._windows = (b, list(batch.windows(cfg.tbptt)))
        windows = self._windows[1]
        if w == 0:
            self.carry = None
        window = windows[w]
        self.position = [b, w + 1] if w + 1 < len(windows) else [b + 1, 0]
        return window

    def _after_step(self, log, result, start) -> str | None:
        cfg = self.config
        # every rank must agree to stop at the same step
        stop_request = distributed.all_sum(torch.tensor([float(self._stop_request)]), self.ctx).item() > 0
        if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.steps:
            self._evaluate_into(log, result)
            if cfg.target_loss is not None and result.val_loss < cfg.target_loss:
                self.save(log)
                return "target"
            if cfg.patience and self.bad_evals >= cfg.patience:
                self.save(log)
                return "early_stop"
        if stop_request:
            self.save(log)
            log.message(f"rnnkit: interrupted; checkpoint written at step {self.step}")
            return "interrupted"
        if cfg.max_minutes is not None and time.monotonic() - start > 60 * cfg.max_minutes:
            self._evaluate_into(log, result)
            self.save(log)
            return "time"
        if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
            self.save(log)
        return None

    def _nonfinite(self, log, loss: float, grad_norm: float, result: Result) -> bool:
        """Skip the step, lower the learning rate, log it; True when too many came in a row."""
        cfg = self.config
        self.nonfinite_streak += 1
        self.carry = None
        scale_lr(self.optimizer, self.scheduler, cfg.nonfinite_factor)
        lr = self.optimizer.param_groups[0]["lr"]
        event = f"nonfinite loss={loss} grad_norm={grad_norm}: step skipped, lr lowered to {lr:.3g}"
        log.row(self.step + 1, "train", loss=loss, grad_norm=grad_norm, lr=lr, event=event)  # the step skipped
        log.message(f"rnnkit: step {self.step + 1}: {event}")
        if self.nonfinite_streak < cfg.max_nonfinite:
            return False
        last = None if self.out_dir is None else self.out_dir / "checkpoint.pt"
        where = f"; the last good checkpoint is {last}" if last is not None and last.exists() else \
            "; no checkpoint was written"
        result.stopped = "nonfinite"
        result.message = (f"stopped: {self.nonfinite_streak} steps in a row had a NaN/Inf loss or gradient "
                          f"(last lr {lr:.3g}){where}")
        log.message(f"rnnkit: {result.message}")
        return True

    # -- evaluation --------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str = "val", batches: int | None = None) -> tuple[float, float]:
        """Mean loss and metric over ``batches`` batches of ``split`` (whole sequences, no truncation)."""
        was_training = self.raw_model.training
        self.raw_model.eval()
        losses, metrics = [], []
        for i in range(batches or self.config.eval_batches):
            batch = self.task.batch(split, i).to(self.ctx.device)
            output, _ = self.raw_model(batch.x, None, batch.resets)
            losses.append(self.task.loss(output, batch).item())
            metrics.append(self.task.metric(output, batch).item())
        self.raw_model.train(was_training)
        return sum(losses) / len(losses), sum(metrics) / len(metrics)

    def _evaluate_into(self, log, result: Result) -> None:
        """Validate; a better val loss than any before is kept in ``out_dir/best.pt``."""
        result.val_loss, result.val_metric = self.evaluate("val")
        if result.val_loss < self.best_val:
            self.best_val, self.best_step, self.bad_evals = result.val_loss, self.step, 0
            self.save(log, "best.pt")
        else:
            self.bad_evals += 1
        log.row(self.step, "val", loss=result.val_loss, metric=result.val_metric)
        log.message(f"step {self.step}: val loss {result.val_loss:.6g}, {self.task.metric_name} "
                    f"{result.val_metric:.6g}")
        self.hooks.fire("on_eval_end", self)

    # -- checkpoints -------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to resume exactly (:func:`rnnkit.train.state.trainer_state`)."""
        return trainer_state(self)

    def save(self, log=None, name: str = "checkpoint.pt") -> Path | None:
        """Write ``out_dir/name`` atomically (rank 0 only); returns its path."""
        if self.out_dir is None or not self.ctx.main:
            return None
        path = self.out_dir / name
        atomic_save(self.state(), path)
        return path

    def load(self, path) -> None:
        """Restore a checkpoint written by :meth:`save`; :class:`CheckpointError` if it does not fit."""
        restore(self, path)
        self._resumed = True
