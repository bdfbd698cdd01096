"""The training monitor: pre-clipping gradient norms, gradient flow records, alarms in monitor.jsonl."""
import json

import pytest
import torch

from rnnkit.data.tasks import AddingTask
from rnnkit.diagnostics.alarms import EXPLODING_REMEDY, jump_alarm
from rnnkit.diagnostics.monitor import MonitorConfig, TrainingMonitor
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer


def _trainer(tmp_path, cell="rnn", steps=3, clip_norm=1e-3):
    torch.manual_seed(0)
    task = AddingTask(length=40, batch_size=4)
    config = TrainConfig(steps=steps, eval_every=0, progress=False, tensorboard=False, clip_norm=clip_norm,
                         checkpoint_every=0)
    return Trainer(SequenceModel(cell, 2, 6, 1), task, config, tmp_path)


def test_monitor_records_pre_clipping_norms_and_raises_vanishing(tmp_path):
    trainer = _trainer(tmp_path)
    monitor = TrainingMonitor(MonitorConfig(every=2)).attach(trainer)
    assert trainer.hooks["training_monitor"] is monitor  # a named Trainer hook
    result = trainer.fit()
    assert [r["step"] for r in monitor.records] == [1, 2, 3]
    for record, row in zip(monitor.records, result.history):
        assert record["grad_norm"] == pytest.approx(row["grad_norm"], rel=1e-5)  # the Trainer's, before clipping
        assert record["grad_norm"] > 1e-3  # larger than the clip: measured before clipping
    assert "ratios" in monitor.records[0] and "ratios" in monitor.records[1] and "ratios" not in monitor.records[2]
    assert set(monitor.records[0]) == {"step", "grad_norm", "ratios", "ratio_at_T-1"}
    assert set(monitor.records[0]["ratios"]) == {"1", "10"}  # the configured lags below T=40
    vanishing = [a for a in monitor.alarms if a.kind == "vanishing"]
    assert vanishing and vanishing[0].step == 1 and "at lag k=" in vanishing[0].message
    assert "--cell lstm" in vanishing[0].remedy
    lines = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert any("alarm" in line and line["alarm"]["kind"] == "vanishing" for line in lines)
    assert sum("grad_norm" in line for line in lines) == 3


def test_jump_alarm_fires_at_x100():
    assert jump_alarm(1.0, 99.0, 5) is None
    alarm = jump_alarm(1.0, 150.0, 5)
    assert alarm.kind == "exploding" and "x150 in one step" in alarm.message and alarm.remedy == EXPLODING_REMEDY
    assert jump_alarm(1.0, float("inf"), 5).kind == "exploding"
    assert str(alarm).startswith("step 5: exploding: gradient norm x150")


class _Scaled:
    """The adding task with its loss multiplied by 1000 from the second step on."""

    def __init__(self, trainer_box):
        self.task, self.box = AddingTask(length=40, batch_size=4), trainer_box
        self.name, self.metric_name = "adding", "mse"

    def batch(self, split, index):
        return self.task.batch(split, index)

    def loss(self, output, batch):
        return self.task.loss(output, batch) * (1000.0 if self.box[0].step >= 1 else 1.0)

    def metric(self, output, batch):
        return self.task.metric(output, batch)


def _jumping_trainer():
    """Two steps whose loss grows x1000 at the second: a jump alarm at step 2."""
    box = []
    torch.manual_seed(0)
    config = TrainConfig(steps=2, eval_every=0, progress=False, tensorboard=False, clip_norm=None,
                         checkpoint_every=0)
    trainer = Trainer(SequenceModel("rnn", 2, 6, 1), _Scaled(box), config, None)
    box.append(trainer)
    return trainer


def test_exploding_alarm_in_training(tmp_path):
    trainer = _jumping_trainer()
    monitor = TrainingMonitor(MonitorConfig(every=100)).attach(trainer)
    trainer.fit()
    exploding = [a for a in monitor.alarms if a.kind == "exploding"]
    assert len(exploding) == 1 and exploding[0].step == 2 and "in one step" in exploding[0].message


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="expected every to be an int >= 1, got 0"):
        MonitorConfig(every=0)
    with pytest.raises(ValueError, match=r"expected threshold in \(0, 1\), got 2"):
        MonitorConfig(threshold=2)


def _flow(T=10):
    """A bidirectional gradient flow: forward grows x10 per lag (exploding), reverse shrinks x10 (vanishing)."""
    from rnnkit.diagnostics.flow import GradientFlow
    t = torch.arange(T, dtype=torch.float64)
    norms = torch.stack([10.0 ** (T - 1 - t), 10.0 ** -t]).unsqueeze(0)  # (L=1, D=2, T)
    return GradientFlow(norms, {"h": norms}, "reference", "")


def test_flow_alarms_name_the_first_lag_past_the_threshold_in_each_direction():
    from rnnkit.diagnostics.alarms import VANISHING_REMEDY, flow_alarms
    exploding, vanishing = flow_alarms(_flow(), "rnn", threshold=1e-6, step=7)
    assert (exploding.kind, exploding.step, exploding.remedy) == ("exploding", 7, EXPLODING_REMEDY)
    assert exploding.message == "||dL/dh_(T-k)||/||dL/dh_T|| = 1e+07 > 1e+06 at lag k=7 (layer 0)"
    assert (vanishing.kind, vanishing.step, vanishing.remedy) == ("vanishing", 7, VANISHING_REMEDY["rnn"])
    assert vanishing.message == ("||dL/dh_(T-k)||/||dL/dh_T|| = 1e-07 < 1e-06 at lag k=7 (layer 0, reverse; "
                                 "1e-09 at k=9)")


def test_a_jump_and_a_flow_alarm_in_the_same_step_are_both_kept(monkeypatch):
    trainer = _jumping_trainer()
    monitor = TrainingMonitor(MonitorConfig(every=2)).attach(trainer)
    monkeypatch.setattr(monitor, "measure", lambda trainer: _flow())
    trainer.fit()
    at_2 = sorted((a.kind, a.message[:10]) for a in monitor.alarms if a.step == 2)
    assert at_2 == [("exploding", "gradient n"), ("exploding", "||dL/dh_(T"), ("vanishing", "||dL/dh_(T")]
