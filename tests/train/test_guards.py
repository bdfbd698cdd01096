"""Gradient clipping and the non-finite guard: each test fails if the mechanism is removed."""
import csv
import math

import pytest
import torch

from rnnkit.data.tasks import AddingTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.checkpoint import load_checkpoint

TASK = AddingTask(length=20, batch_size=32)


def _fit(out=None, task=TASK, **kw):
    torch.manual_seed(0)
    cfg = dict(steps=30, optimizer="sgd", lr=1.0, eval_every=0, progress=False, tensorboard=False, max_nonfinite=3)
    trainer = Trainer(SequenceModel("rnn", 2, 16, 1), task, TrainConfig(**{**cfg, **kw}), out)
    return trainer, trainer.fit()


def _finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_sgd_lr_1_diverges_without_clipping():
    trainer, result = _fit(clip_norm=None)
    assert result.stopped == "nonfinite" or max(h["loss"] for h in result.history) > 1e6


@pytest.mark.parametrize("clip", [pytest.param(dict(clip_norm=1.0), id="norm"),
                                  pytest.param(dict(clip_norm=None, clip_value=0.1), id="value")])
def test_the_same_lr_trains_with_clipping(clip):
    trainer, result = _fit(**clip)
    assert result.stopped == "done" and result.step == 30
    assert max(h["loss"] for h in result.history) < 2.0 and _finite(trainer.raw_model)


def test_logged_grad_norm_is_measured_before_clipping():
    trainer, result = _fit(clip_norm=1e-3, steps=5)
    assert all(h["grad_norm"] > 1e-3 for h in result.history)  # the clipped norm would be 1e-3


class NaNTask(AddingTask):
    """Adding batches, with NaN inputs on train batches ``bad_from`` to ``bad_to``."""

    bad_from, bad_to = 2, 2

    def batch(self, split, index):
        batch = super().batch(split, index)
        if split == "train" and self.bad_from <= index <= self.bad_to:
            batch.x[5, 0, 0] = math.nan
        return batch


def test_nonfinite_step_is_skipped_lr_lowered_and_logged(tmp_path):
    task = NaNTask(length=20, batch_size=32)
    trainer, result = _fit(tmp_path, task=task, optimizer="adam", lr=0.01, steps=6)
    assert result.stopped == "done" and result.step == 6  # the bad batch was skipped, not counted
    assert _finite(trainer.raw_model)  # one NaN step would poison every weight through Adam
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    log = (tmp_path / "log.csv").read_text()
    assert "nonfinite loss=nan" in log and "lr lowered to 0.005" in log
    with open(tmp_path / "log.csv") as f:
        skipped, = [r for r in csv.DictReader(f) if r["event"].startswith("nonfinite")]
    assert skipped["step"] == "3" and skipped["loss"] == "nan" and skipped["grad_norm"] == "nan"
    assert float(skipped["lr"]) == pytest.approx(0.005)


class AlwaysNaN(NaNTask):
    bad_from, bad_to = 3, 10**9


def test_nonfinite_in_a_row_stops_with_the_last_good_checkpoint_intact(tmp_path, capsys):
    task = AlwaysNaN(length=20, batch_size=32)
    trainer, result = _fit(tmp_path, task=task, optimizer="adam", lr=0.01, steps=20, checkpoint_every=1)
    assert result.stopped == "nonfinite" and result.step == 3
    assert "3 steps in a row had a NaN/Inf loss or gradient" in result.message
    assert str(tmp_path / "checkpoint.pt") in result.message
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 3
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["model"].values())


def test_a_nonfinite_stop_before_any_checkpoint_says_none_was_written(tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=20, optimizer="sgd", lr=1e30, clip_norm=None, max_nonfinite=2, eval_every=0,
                      progress=False, tensorboard=False, checkpoint_every=0)
    result = Trainer(SequenceModel("rnn", 2, 4, 1), AddingTask(6, 4), cfg, tmp_path).fit()
    assert result.stopped == "nonfinite" and result.message.endswith("; no checkpoint was written")
    assert not (tmp_path / "checkpoint.pt").exists()


def test_an_interrupt_before_any_validation_says_so_instead_of_nan(tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=20, eval_every=0, progress=False, tensorboard=False)
    trainer = Trainer(SequenceModel("rnn", 2, 4, 1), AddingTask(6, 4), cfg, tmp_path)
    trainer.add_callback("on_step_end", lambda t: t.request_stop())
    result = trainer.fit()
    assert result.message == "interrupted at step 1; no validation ran yet"
