"""Rules a user relies on, checked deterministically rather than by sampling a few cases.

Each test names the bug it was written to catch (planted once by hand to see it fail):
clipping by norm skipped when clipping by value is set; the reverse direction's
gradient-flow ratio normalised by the wrong step; temperature applied the wrong way round;
the forecaster's normalisation fitted on the whole series; a run stopped by NaN/Inf
exiting 0; training windows whose targets reach into the validation part.
"""
import math

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.cli.main import main
from rnnkit.data.series import ForecastTask
from rnnkit.data.tasks import AddingTask
from rnnkit.diagnostics.flow import GradientFlow
from rnnkit.jobs import forecast
from rnnkit.models import SequenceModel, sample
from rnnkit.train import TrainConfig, Trainer


# -- clipping: value first, then norm, and both always ---------------------------------------------------------
@pytest.mark.parametrize("clip_value, clip_norm", [(0.05, 0.01), (0.05, None), (None, 0.01), (0.001, 10.0)],
                         ids=["both", "value-only", "norm-only", "both-norm-loose"])
def test_the_update_is_the_gradient_clipped_by_value_then_by_norm(clip_value, clip_norm):
    torch.manual_seed(0)
    task = AddingTask(length=6, batch_size=4)
    model = SequenceModel("rnn", 2, 3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    # the raw gradient of the first training batch, clipped by hand
    batch = task.batch("train", 0)
    task.loss(model(batch.x)[0], batch).backward()
    g = [p.grad.detach().clone() for p in model.parameters()]
    model.zero_grad()
    if clip_value is not None:
        g = [x.clamp(-clip_value, clip_value) for x in g]
    if clip_norm is not None:
        total = math.sqrt(sum(float((x.double() ** 2).sum()) for x in g))
        g = [x * min(1.0, clip_norm / (total + 1e-6)) for x in g]
    cfg = TrainConfig(steps=1, optimizer="sgd", lr=1.0, clip_value=clip_value, clip_norm=clip_norm, eval_every=0,
                      eval_batches=1, progress=False, tensorboard=False)
    Trainer(model, task, cfg, None).fit()
    for b, p, want in zip(before, model.parameters(), g):
        torch.testing.assert_close(b - p.detach(), want, atol=1e-7, rtol=1e-5)  # SGD, lr 1: the update is -g


# -- gradient flow: both directions are normalised by their own last step --------------------------------------
def test_each_direction_is_normalised_by_the_last_step_it_reads():
    forward = torch.tensor([1.0, 2.0, 4.0, 8.0])  # read t = 0 .. 3: the last step read is t = 3
    backward = torch.tensor([5.0, 2.5, 1.0, 0.5])  # read t = 3 .. 0: the last step read is t = 0
    norms = torch.stack([forward, backward])[None]  # (L=1, D=2, T=4)
    flow = GradientFlow(norms, {"h": norms}, "reference", "")
    torch.testing.assert_close(flow.ratio(direction=0), forward / 8.0)
    torch.testing.assert_close(flow.ratio(direction=1), backward / 5.0)
    torch.testing.assert_close(flow.by_lag(direction=0), torch.tensor([8.0, 4.0, 2.0, 1.0]))
    torch.testing.assert_close(flow.by_lag(direction=1), backward)
    lags = {(r["direction"], r["t"]): r["lag"] for r in flow.table()}
    assert lags[(0, 3)] == 0 and lags[(0, 0)] == 3 and lags[(1, 0)] == 0 and lags[(1, 3)] == 3


# -- sampling temperature: p ∝ exp(z / τ) ------------------------------------------------------------------------
class FixedLogits(nn.Module):
    """A 'language model' whose next-token logits are always the same."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits, dtype=torch.float64)

    def forward(self, ids, state=None):
        return self.logits.expand(ids.shape[0], ids.shape[1], -1), state

    def step(self, ids, state=None):  # one token per sequence, as LanguageModel.step
        return self.logits.expand(ids.shape[0], -1), state


@pytest.mark.parametrize("temperature", [0.25, 0.5, 1.0, 2.0, 4.0])
def test_samples_follow_softmax_of_logits_over_temperature(temperature):
    logits = [2.0, 1.0, 0.0, -1.0]
    n = 4000
    drawn = sample(FixedLogits(logits), torch.tensor([0]), n, temperature=temperature, seed=1)
    freq = np.bincount(drawn.numpy(), minlength=4) / n
    p = torch.softmax(torch.tensor(logits) / temperature, 0).numpy()
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-3), (freq, p)  # 5 sigma of a binomial


def test_a_lower_temperature_never_makes_the_argmax_less_likely():
    logits = [0.3, 1.2, -0.5, 1.0, 0.0]
    shares = []
    for temperature in (4.0, 2.0, 1.0, 0.5, 0.25):
        drawn = sample(FixedLogits(logits), torch.tensor([0]), 3000, temperature=temperature, seed=3)
        shares.append(float((drawn == 1).float().mean()))
    assert shares == sorted(shares) and shares[-1] - shares[0] > 0.3, shares  # softmax: 0.24 at 4, 0.67 at 0.25


# -- forecasting: the normalisation comes from the training part only ---------------------------------------------
def test_normalisation_statistics_come_from_the_training_part_only(tmp_path):
    n = 120
    rng = np.random.default_rng(0)
    base = rng.normal(10.0, 2.0, n)
    shifted = base.copy()
    shifted[n - 36:] += 1000.0  # a different validation and test part (18 + 18 values)
    fields = []
    for values in (base, shifted):
        path = tmp_path / f"s{len(fields)}.csv"
        path.write_text("v\n" + "".join(f"{v:.6f}\n" for v in values))
        config = forecast.ForecastConfig(csv=str(path), length=8, horizon=2, val_fraction=0.15, test_fraction=0.15)
        fields.append(forecast.build(config).run_fields)
    n_train = n - round(n * 0.15) - round(n * 0.15)
    assert fields[0]["task_mean"] == fields[1]["task_mean"] == pytest.approx(float(base[:n_train].mean()))
    assert fields[0]["task_std"] == fields[1]["task_std"] == pytest.approx(float(base[:n_train].std()))


# -- splits: no training window reaches a value of the validation part --------------------------------------------
@pytest.mark.parametrize("length, horizon", [(5, 1), (5, 3), (8, 2)])
def test_no_training_window_or_target_reaches_past_the_training_part(length, horizon):
    n = 60
    task = ForecastTask(torch.arange(n, dtype=torch.float32), length, horizon, batch_size=256, seed=0,
                        val_fraction=0.2, test_fraction=0.2)
    end = task.bounds["train"][1]
    seen = set()
    for index in range(8):
        b = task.batch("train", index)
        assert float(b.x.max()) < end and float(b.y.max()) < end  # the values are their own indices
        seen.update(b.x[0, :, 0].long().tolist())
    assert max(seen) == end - length - horizon  # the last start whose targets are all training values is drawn


def test_the_shortest_possible_training_part_has_exactly_one_window():
    # train part = length + horizon + 1 values: starts 0 and 1 fit, and nothing later
    task = ForecastTask(torch.arange(20, dtype=torch.float32), length=4, horizon=2, batch_size=512, seed=0,
                        val_fraction=0.3, test_fraction=0.3)
    end = task.bounds["train"][1]
    b = task.batch("train", 0)
    assert set(b.x[0, :, 0].long().tolist()) == set(range(end - 6 + 1)) and float(b.y.max()) == end - 1


# -- a run stopped by NaN/Inf fails ---------------------------------------------------------------------------
def test_a_run_stopped_by_nan_exits_1_with_one_line_and_keeps_no_bad_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--task", "adding", "--length", "6", "--hidden-size", "4", "--batch-size", "4",
                 "--steps", "20", "--optimizer", "sgd", "--lr", "1e30", "--clip-norm", "none", "--max-nonfinite", "2",
                 "--eval-every", "0", "--no-progress", "--no-tensorboard", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "steps in a row had a NaN/Inf loss or gradient" in printed and "checkpoint:" not in printed
