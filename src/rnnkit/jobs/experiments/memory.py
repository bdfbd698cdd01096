"""Experiments 8 and 9: how many steps back each cell can recall, and the adding problem at T = 1,000."""
from __future__ import annotations

import math
from pathlib import Path

import torch

from rnnkit.data.tasks import AddingTask, HorizonTask
from rnnkit.diagnostics import plots
from rnnkit.jobs.experiments.common import make, save_json, table, train
from rnnkit.jobs.experiments.theory import _decay, _ratios
from rnnkit.jobs.experiments.training import _curves

# label -> (cell, init, Adam lr): IRNN needs the smaller lr (larger ones blow up the ReLU state)
CONFIGS = {"tanh, default init": ("tanh", None, 5e-3), "tanh, orthogonal": ("tanh", "orthogonal", 5e-3),
           "IRNN (relu, identity)": ("relu", "identity", 1e-3), "LSTM, default init": ("lstm", None, 5e-3),
           "LSTM, chrono": ("lstm", "chrono", 5e-3), "GRU": ("gru", None, 5e-3), "minGRU": ("mingru", None, 5e-3)}
LAGS = (5, 10, 20, 50, 100, 200, 500)
RECALLS, CHANCE = 0.9, 0.25  # "recalls": accuracy >= 90 %; "at chance": below 2x the 1/8 of a uniform guess
FLOW_DROP = 100.0  # the gradient-flow horizon: lags for the gradient to fall 100x at its measured decay per step


def _horizons(ks, accuracies) -> tuple[str, str]:
    """The longest k recalled (>= 90 % until then) and the first k at chance, as table cells."""
    longest = "none"
    for k, a in zip(ks, accuracies):
        if a < RECALLS:
            break
        longest = str(k)
    fallen = next((str(k) for k, a in zip(ks, accuracies) if a < CHANCE), f"> {ks[-1]}")
    return longest, fallen


def _flow_horizon(decay: float) -> float:
    """ln(100) / -ln(decay): how many steps back the gradient keeps 1 % of itself (inf when it does not decay)."""
    return math.log(FLOW_DROP) / -math.log(decay) if 0 < decay < 1 else math.inf


def experiment8(out: Path, quick: bool = False) -> list[str]:
    """Memory horizon: recall accuracy of a symbol k steps back, k = 5..500, for each cell in the same budget."""
    # --quick: two cells at k = 5 and 50, a fixed 500 steps each (deterministic); the full run gives every
    # point the same wall time, so its numbers move a little with the machine's speed
    H, seconds = 32, 10.0
    configs = {k: CONFIGS[k] for k in ("tanh, default init", "LSTM, chrono")} if quick else CONFIGS
    ks = (5, 50) if quick else LAGS
    flow_task = HorizonTask(length=ks[-1], batch_size=32)
    curves, flows, rows, data = {}, {}, [], {}
    for label, (cell, init, lr) in configs.items():
        torch.manual_seed(0)
        ratios = _ratios(make(cell, 9, H, 8, init=init), flow_task.batch("val", 0), flow_task.loss)
        flows[label] = (list(range(ratios.numel())), ratios.tolist())
        accuracy, fits = [], []
        for k in ks:
            torch.manual_seed(0)
            fit = train(make(cell, 9, H, 8, init=init), HorizonTask(length=k, batch_size=64), lr=lr, eval_batches=8,
                        steps=500 if quick else 10 ** 7, max_minutes=None if quick else seconds / 60)
            accuracy.append(fit["val_metric"])
            fits.append({"k": k, "steps": fit["steps"], "seconds": fit["seconds"], "stopped": fit["stopped"],
                         "val_loss": fit["val_loss"], "val_accuracy": fit["val_metric"]})
        curves[label] = (list(ks), accuracy)
        recalled, fallen = _horizons(ks, accuracy)
        decay = _decay(ratios)
        rows.append([label, *accuracy, recalled, fallen, decay, round(_flow_horizon(decay), 1),
                     f"{fits[0]['steps']}-{fits[-1]['steps']}"])
        data[label] = {"cell": cell, "init": init, "lr": lr, "points": fits, "flow_at_init": ratios.tolist()}
    plots.plot_curves(curves, Path(out) / "exp8_horizon.png", title=f"recall of the symbol k steps back, H={H}",
                      xlabel="k (steps from the marked symbol to the answer)", ylabel="held-out accuracy",
                      reference={"chance (1/8)": (list(ks), [1 / 8] * len(ks))}, yscale="linear", xscale="log",
                      marker="o-")
    plots.plot_curves(flows, Path(out) / "exp8_flow.png", title=f"gradient flow at init, horizon task k={ks[-1]}")
    save_json(out, "exp8.json", data)
    budget = "500 Adam steps per point" if quick else f"{seconds:g} s of training per point (1 thread)"
    lines = [f"horizon task: 8 symbols, one marked, its class asked k steps later (distractors between), chance "
             f"1/8; H={H}, batch 64, Adam, clip_norm 1, {budget}; accuracy over 8 val batches (512 sequences). "
             f"Gradient decay/step: the slope of log ||dL/dh_(T-k)|| / ||dL/dh_T|| over the lags at init (k={ks[-1]} "
             f"batch, float64; `rnnkit diagnose` measures the same flow); gradient-flow horizon: ln {FLOW_DROP:g} / "
             f"-ln(decay), the lag at which that decay leaves 1/{FLOW_DROP:g} of the gradient", ""]
    return lines + table(["cell", *(f"k={k}" for k in ks), f"recalls (>= {RECALLS:.0%}) up to k",
                          f"at chance (< {CHANCE:.0%}) from k", "gradient decay/step", "gradient-flow horizon (lags)",
                          "steps run"], rows)


def experiment9(out: Path, quick: bool = False) -> list[str]:
    """The adding problem at T = 1,000 solved within 10 CPU-minutes by minGRU, where a tanh RNN stays at baseline."""
    # --quick: T = 100 and 1200 steps (deterministic): minGRU is far below the baseline, tanh is not
    T, H, steps = (100, 64, 1200) if quick else (1000, 64, 4000)
    task = AddingTask(length=T, batch_size=64)
    runs, rows = {}, []
    for label, cell in (("minGRU", "mingru"), ("tanh, default init", "tanh")):
        torch.manual_seed(0)
        fit = train(make(cell, 2, H, 1), task, steps=steps, lr=5e-3, eval_batches=4, test_batches=10,
                    max_minutes=10.0)
        runs[label] = fit
        rows.append([label, fit["steps"], f"{fit['seconds']:.0f} s", fit["val_loss"], fit["test_loss"],
                     task.baseline, "yes" if fit["test_loss"] < 0.01 else "no"])
    plots.plot_curves(_curves(runs, every=50), Path(out) / "exp9_adding.png", xlabel="step",
                      ylabel="training MSE (mean of 50 steps)", title=f"adding T={T}, H={H}: minGRU vs tanh RNN")
    save_json(out, "exp9.json", {k: {kk: vv for kk, vv in v.items() if kk != "grad_norms"} for k, v in runs.items()})
    lines = [f"adding T={T}, H={H}, batch 64, Adam lr 5e-3, clip_norm 1, {steps} steps (capped at 10 minutes); "
             "test MSE over 10 test batches (640 sequences); solved: test MSE < 0.01. "
             "The search over every cell and init: benchmarks/adding_search.py, benchmarks/RESULTS.md", ""]
    return lines + table(["model", "steps", "train time", "val MSE", "test MSE", "baseline MSE", "solved"], rows)
