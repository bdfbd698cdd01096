"""Experiments 3 to 7: what the gradient picture means for training."""
from __future__ import annotations

import math
from pathlib import Path

import torch

from rnnkit.data.tasks import AddingTask, CopyTask, LookaheadTask, RecallTask
from rnnkit.diagnostics import plots
from rnnkit.jobs.experiments.common import make, save_json, table, train


def _curves(runs: dict, key: str = "losses", every: int = 10) -> dict:
    """label -> (steps, running mean of ``key`` over ``every`` steps)."""
    out = {}
    for label, fit in runs.items():
        ys = fit[key]
        xs = list(range(every, len(ys) + 1, every))
        out[label] = (xs, [sum(ys[i - every:i]) / every for i in xs])
    return out


def experiment3(out: Path, quick: bool = False) -> list[str]:
    """Clipping by norm and by value rescues SGD at a learning rate that diverges without it."""
    # --quick: the full sizes; no clipping still diverges at step 23, and clip_value=0.1 learns within 600 steps;
    # the clip_norm rows (which learn only after ~1300 steps) run 100 steps to show they do not diverge
    T, H, steps, lr = (20, 32, 600, 0.5) if quick else (20, 32, 1500, 0.5)
    short = 100 if quick else steps
    task = AddingTask(length=T, batch_size=32)
    runs, rows = {}, []
    for label, clip_norm, clip_value, steps_ in (("no clipping", None, None, steps), ("clip_norm=1", 1.0, None, short),
                                                 ("clip_norm=0.25", 0.25, None, short),
                                                 ("clip_value=0.1", None, 0.1, steps)):
        torch.manual_seed(0)
        fit = train(make("gru", 2, H, 1), task, steps=steps_, lr=lr, optimizer="sgd", clip_norm=clip_norm,
                    clip_value=clip_value)
        runs[label] = fit
        finite = [g for g in fit["grad_norms"] if math.isfinite(g)]
        rows.append([label, fit["steps"], fit["stopped"], max(finite) if finite else math.nan,
                     fit["losses"][-1] if fit["losses"] else math.nan, fit["val_loss"]])
    plots.plot_curves(_curves(runs), Path(out) / "exp3_clipping.png", xlabel="step",
                      ylabel="training MSE (mean of 10 steps)", title=f"SGD lr {lr}, GRU H={H}, adding T={T}")
    save_json(out, "exp3.json", {k: {kk: vv for kk, vv in v.items()} for k, v in runs.items()})
    lines = [f"adding T={T} (baseline MSE 0.1667), GRU H={H} (torch.nn's init), plain SGD lr {lr}, batch 32, {steps} "
             + (f"({short} for clip_norm) " if short != steps else "")
             + "steps; the Trainer skips a step with a NaN/Inf loss or gradient and halves the lr, and stops after 3 "
             "in a row", ""]
    return lines + table(["clipping", "steps taken", "stopped", "largest gradient norm (before clipping)",
                          "last training MSE", "val MSE"], rows)


def experiment4(out: Path, quick: bool = False) -> list[str]:
    """LSTM and GRU learn the adding and copy tasks at lengths where a tanh RNN fails."""
    # --quick: adding only, at T=20 and 500 steps (the shortest run where both gated cells clearly learn it and
    # tanh does not); the copy rows need thousands of steps
    adding_T, copy_T, H, steps, copy_H, copy_steps = (20, 0, 32, 500, 0, 0) if quick else (100, 20, 32, 1500, 64, 4000)
    rows, curves, data = [], {}, {}
    runs = [(AddingTask(length=adding_T, batch_size=64), H, steps)]
    if not quick:
        runs.append((CopyTask(length=copy_T, batch_size=64), copy_H, copy_steps))
    for task, H_, steps_ in runs:
        for cell in ("tanh", "lstm", "gru"):
            torch.manual_seed(0)
            model = make(cell, task.input_size, H_, task.output_size)
            fit = train(model, task, steps=steps_, lr=5e-3)
            label = f"{task.name} T={task.length}, {cell}"
            curves[label] = fit
            data[label] = {k: v for k, v in fit.items() if k not in ("losses", "grad_norms")}
            rows.append([task.name, task.length, cell, H_, steps_, fit["val_loss"], task.baseline, task.metric_name,
                         fit["val_metric"], f"{fit['seconds']:.0f} s"])
    for name in ("adding",) if quick else ("adding", "copy"):
        sub = {k: v for k, v in curves.items() if k.startswith(name)}
        plots.plot_curves(_curves(sub), Path(out) / f"exp4_{name}.png", xlabel="step",
                          ylabel="training loss (mean of 10 steps)", title=f"{name}: tanh RNN vs LSTM vs GRU")
    save_json(out, "exp4.json", data)
    lines = ["Adam lr 5e-3, clip_norm 1, batch 64; val = 4 held-out batches (256 sequences); copy: T = the delay "
             "(sequences of T + 20 steps), metric = recall accuracy (chance 1/8)", ""]
    return lines + table(["task", "T", "cell", "H", "steps", "val loss", "memoryless baseline loss", "metric", "val metric",
                          "train time"], rows)


def experiment5(out: Path, quick: bool = False) -> list[str]:
    """A bidirectional LSTM beats a unidirectional one when the target lies in the future."""
    T, H, steps = (20, 16, 200) if quick else (20, 32, 800)  # --quick: the BiLSTM is already far below the bound
    task = LookaheadTask(length=T, batch_size=64, shift=3)
    runs, rows = {}, []
    for label, bi in (("LSTM", False), ("BiLSTM", True)):
        torch.manual_seed(0)
        fit = train(make("lstm", 1, H, 1, bidirectional=bi), task, steps=steps, lr=5e-3)
        runs[label] = fit
        rows.append([label, fit["val_loss"], task.baseline, f"{fit['seconds']:.0f} s"])
    plots.plot_curves(_curves(runs), Path(out) / "exp5_bidirectional.png", xlabel="step",
                      ylabel="training MSE (mean of 10 steps)", title=f"y_t = x_(t+3), T={T}, H={H}")
    save_json(out, "exp5.json", {k: {kk: vv for kk, vv in v.items() if kk != "grad_norms"} for k, v in runs.items()})
    lines = [f"look-ahead task: x_t ~ U(0,1), target y_t = x_(t+3) (0 for the last 3 steps), T={T}, MSE over all "
             f"steps; H={H} per direction, Adam lr 5e-3, clip_norm 1, batch 64, {steps} steps", ""]
    return lines + table(["model", "val MSE", "best causal predictor's MSE", "train time"], rows)


def experiment6(out: Path, quick: bool = False) -> list[str]:
    """IRNN (ReLU, identity init) against a tanh RNN with torch.nn's default init on the adding task."""
    T, H, steps = (20, 64, 1000) if quick else (50, 64, 3000)  # --quick: the IRNN's plateau ends after ~700 steps
    task = AddingTask(length=T, batch_size=64)
    runs, rows = {}, []
    for label, cell, init, lr in (("tanh, default init", "tanh", None, 1e-3), ("IRNN (relu, identity init)", "relu",
                                                                              "identity", 1e-3)):
        torch.manual_seed(0)
        fit = train(make(cell, 2, H, 1, init=init), task, steps=steps, lr=lr)
        runs[label] = fit
        rows.append([label, lr, fit["stopped"], fit["val_loss"], task.baseline, f"{fit['seconds']:.0f} s"])
    plots.plot_curves(_curves(runs), Path(out) / "exp6_irnn.png", xlabel="step",
                      ylabel="training MSE (mean of 10 steps)", title=f"adding T={T}, H={H}: IRNN vs tanh")
    save_json(out, "exp6.json", {k: {kk: vv for kk, vv in v.items()} for k, v in runs.items()})
    lines = [f"adding T={T}, H={H}, Adam, clip_norm 1, batch 64, {steps} steps", ""]
    return lines + table(["model", "lr", "stopped", "val MSE", "baseline MSE", "train time"], rows)


def experiment7(out: Path, quick: bool = False) -> list[str]:
    """Truncated BPTT with window k cannot learn a dependency longer than k; full BPTT can."""
    # --quick: the full sizes, 350 steps (full BPTT learns the recall by ~270)
    T, gap, H, steps, k = (40, 20, 32, 350, 10) if quick else (40, 20, 32, 1500, 10)
    task = RecallTask(length=T, batch_size=64, gap=gap)
    runs, rows = {}, []
    for label, tbptt in (("full BPTT", None), (f"TBPTT k={k}", k)):
        torch.manual_seed(0)
        fit = train(make("gru", 2, H, 1), task, steps=steps, lr=5e-3, tbptt=tbptt)
        runs[label] = fit
        rows.append([label, fit["val_loss"], task.baseline, f"{fit['seconds']:.0f} s"])
    plots.plot_curves(_curves(runs), Path(out) / "exp7_tbptt.png", xlabel="step",
                      ylabel="training MSE (mean of 10 steps)", title=f"recall across >= {gap} steps, T={T}, GRU "
                                                                       f"H={H}: TBPTT k={k} vs full")
    save_json(out, "exp7.json", {k_: {kk: vv for kk, vv in v.items()} for k_, v in runs.items()})
    lines = [f"recall task T={T}: one marked value in steps 0..{T - gap - 1} (at least {gap} steps before the end, "
             f"longer than the window k={k}), to be output at the last step; GRU H={H}, Adam lr 5e-3, clip_norm 1, "
             f"batch 64, {steps} optimizer steps (one per batch: only the last window has a target)", ""]
    return lines + table(["training", "val MSE", "baseline MSE (predict 1/2)", "train time"], rows)
