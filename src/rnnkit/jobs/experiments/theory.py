"""Experiments 1 and 2: gradient norm against lag, and the spectral radius deciding it."""
from __future__ import annotations

import copy
import math
from functools import partial
from pathlib import Path

import torch
from torch import nn

import rnnkit
from rnnkit.data.tasks import AddingTask
from rnnkit.diagnostics import plots
from rnnkit.diagnostics.flow import gradient_flow
from rnnkit.diagnostics.jacobian import jacobian_products
from rnnkit.diagnostics.spectral import power_iteration, rate_from_logs, spectrum
from rnnkit.jobs.experiments.common import make, save_json, table, train
from rnnkit.models import SequenceModel

CELLS = ("tanh", "relu", "lstm", "gru")


def _ratios(model, batch, loss) -> torch.Tensor:
    """(T,) ||dL/dh_(T-k)|| / ||dL/dh_T|| for k = 0..T-1, on a float64 copy."""
    model = copy.deepcopy(model).double()
    flow = gradient_flow(model, batch.to(dtype=torch.float64), loss)
    lags = flow.by_lag()
    return lags / lags[0]


def _decay(ratios: torch.Tensor) -> float:
    """Measured factor per step: exp(slope of log ratio over lags 1..T-1, where it is > 0)."""
    r = ratios[1:]
    r = r[: int((r > 0).sum())]
    return rate_from_logs(torch.log(r)) if r.numel() >= 2 else math.nan


def _tanh_prediction(model, batch) -> dict:
    """rho(W_hh), ||W_hh||_2, mean tanh'(a_t) on the batch, their product, and the Jacobian-product rate."""
    m = copy.deepcopy(model).double()
    cell = m.rnn.cells[0]
    x = batch.x.double()
    with torch.no_grad():
        h, _ = m.rnn(x)  # (T, B, H)
    tanh_prime = float((1 - h ** 2).mean())
    s = spectrum(cell.weight_hh)
    jp = jacobian_products(cell, x[:, :8], max_lag=x.shape[0])
    return {"rho": s.radius, "norm2": s.norm, "mean_tanh_prime": tanh_prime,
            "rho_x_tanh_prime": s.radius * tanh_prime, "jacobian_rate": jp.rate}


def experiment1(out: Path, quick: bool = False) -> list[str]:
    """Gradient norm vs lag for tanh RNN, ReLU RNN, LSTM, GRU at init and after training (adding, T=100)."""
    # --quick: the full sizes and 5 training steps; the init columns (the headline) depend only on the seed
    # and the sizes, so they are the documented numbers (tests/jobs/test_experiment_bands.py)
    T, H, steps = (100, 32, 5) if quick else (100, 32, 1500)
    task = AddingTask(length=T, batch_size=32)
    batch = task.batch("val", 0)
    curves = {"init": {}, "trained": {}}
    rows, pred, data = [], [], {}
    for cell in CELLS:
        torch.manual_seed(0)
        model = make(cell, 2, H, 1)
        r0 = _ratios(model, batch, task.loss)
        p0 = _tanh_prediction(model, batch) if cell == "tanh" else None
        fit = train(model, task, steps=steps)
        r1 = _ratios(model, batch, task.loss)
        lags = list(range(T))
        curves["init"][cell] = (lags, r0.tolist())
        curves["trained"][cell] = (lags, r1.tolist())
        rows.append([cell, float(r0[10]), float(r0[-1]), _decay(r0), float(r1[10]), float(r1[-1]), _decay(r1),
                     fit["val_loss"]])
        if cell == "tanh":
            p1 = _tanh_prediction(model, batch)
            for when, p, r in (("init", p0, r0), ("trained", p1, r1)):
                pred.append([when, _decay(r), p["jacobian_rate"], p["rho"], p["norm2"], p["mean_tanh_prime"],
                             p["rho_x_tanh_prime"]])
        data[cell] = {"init": r0.tolist(), "trained": r1.tolist(), "train": {k: v for k, v in fit.items()
                                                                               if k not in ("losses", "grad_norms")}}
    for when in ("init", "trained"):
        plots.plot_curves(curves[when], Path(out) / f"exp1_{when}.png",
                          title=f"adding T={T}, H={H}: gradient vs lag, {when}"
                                + ("" if when == "init" else f" ({steps} Adam steps)"))
    save_json(out, "exp1.json", data)
    lines = [f"adding task T={T}, H={H}, batch 32 (val batch 0), float64; training: {steps} Adam steps, "
             "lr 5e-3, clip_norm 1", ""]
    lines += table(["cell", "init: ratio k=10", f"init: ratio k={T - 1}", "init: decay/step",
                    "trained: ratio k=10", f"trained: ratio k={T - 1}", "trained: decay/step", "val MSE"], rows)
    lines += ["", "tanh RNN: measured decay per step against the prediction", ""]
    lines += table(["when", "measured decay/step (gradient)", "Jacobian-product rate", "rho(W_hh)", "‖W_hh‖₂",
                    "mean tanh'", "rho x mean tanh'"], pred)
    return lines


class LinearCell(rnnkit.Cell):
    r"""h_t = W h_{t-1} + U x_t: the linear recurrence of the power argument."""

    def __init__(self, input_size: int, hidden_size: int, radius: float = 1.0) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) / math.sqrt(input_size))
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size))
        with torch.no_grad():
            self.weight_hh.mul_(radius / spectrum(self.weight_hh).radius)

    def step(self, x_t, h):
        h = x_t @ self.weight_ih.T + h @ self.weight_hh.T  # (B, H)
        return h, h


def experiment2(out: Path, quick: bool = False) -> list[str]:
    """Spectral radius 0.9, 1.0, 1.1: the linear recurrence and the gradient through time."""
    H, T = 64, 200  # --quick as well: nothing is trained (about a second), so it gives the documented numbers
    task = AddingTask(length=T, batch_size=16)
    batch = task.batch("val", 0)
    power, grads, rows = {}, {}, []
    reference = {}
    for rho in (0.9, 1.0, 1.1):
        torch.manual_seed(0)
        W = torch.randn(H, H, dtype=torch.float64)
        W = W * (rho / spectrum(W).radius)
        run = power_iteration(W, steps=T)
        ts = list(range(T + 1))
        power[f"rho {rho}: ||h_t||/||h_0||"] = (ts, (run.norms / run.norms[0]).tolist())
        reference[f"rho {rho}: rho^t"] = (ts, [rho ** t for t in ts])
        torch.manual_seed(0)
        linear = SequenceModel.around(rnnkit.Recurrent(partial(LinearCell, hidden_size=H, radius=rho), input_size=2),
                                      1)  # a linear recurrent layer and a linear read-out
        r_lin = _ratios(linear, batch, task.loss)
        torch.manual_seed(0)
        tanh = make("tanh", 2, H, 1, spectral_radius=rho)
        r_tanh = _ratios(tanh, batch, task.loss)
        lags = list(range(T))
        grads[f"linear, rho {rho}"] = (lags, r_lin.tolist())
        grads[f"tanh, rho {rho}"] = (lags, r_tanh.tolist())
        rows.append([rho, run.rate, float(run.norms[-1] / run.norms[0]), rho ** T, _decay(r_lin), float(r_lin[-1]),
                     _decay(r_tanh), float(r_tanh[-1])])
    plots.plot_curves(power, Path(out) / "exp2_power.png", title=f"h_t = W^T h_(t-1), H={H}",
                      xlabel="t", ylabel="||h_t|| / ||h_0||", reference=reference)
    plots.plot_curves(grads, Path(out) / "exp2_gradients.png", title=f"gradient vs lag, adding T={T}, H={H}")
    save_json(out, "exp2.json", {"rows": rows})
    lines = [f"H={H}, T={T}; W ~ N(0,1) rescaled to spectral radius rho (seed 0); gradients on adding val batch 0 "
             "(16 sequences), float64", ""]
    return lines + table(["rho", "power: measured rate", f"power: ‖h_{T}‖/‖h_0‖", f"rho^{T}",
                          "linear RNN: gradient rate/step", f"linear: ratio k={T - 1}", "tanh RNN: gradient rate/step",
                          f"tanh: ratio k={T - 1}"], rows)
