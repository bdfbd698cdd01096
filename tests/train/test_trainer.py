"""Trainer stop rules, callbacks and validation."""
from contextlib import contextmanager

import pytest
import torch

import rnnkit

from rnnkit.data.tasks import AddingTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer

TASK = AddingTask(length=8, batch_size=8)


def _fit(out=None, **kw):
    torch.manual_seed(0)
    cfg = {"steps": 20, "eval_every": 2, "eval_batches": 1, "progress": False, "tensorboard": False, **kw}
    trainer = Trainer(SequenceModel("gru", 2, 4, 1), TASK, TrainConfig(**cfg), out)
    evals = []
    trainer.add_callback("on_eval_end", lambda t: evals.append(t.step))
    return trainer, trainer.fit(), evals


def test_early_stopping_after_patience_evaluations_without_improvement(tmp_path):
    trainer, result, evals = _fit(tmp_path, lr=0.0, patience=2)  # lr 0: the val loss never improves
    assert result.stopped == "early_stop" and result.step == 6 and evals == [2, 4, 6]
    assert (tmp_path / "checkpoint.pt").exists()


def test_target_loss_stops_as_soon_as_it_is_reached():
    trainer, result, evals = _fit(target_loss=10.0)
    assert result.stopped == "target" and result.step == 2 and result.val_loss < 10.0


def test_runs_to_the_end_and_evaluates_once_more():
    trainer, result, evals = _fit(steps=3, eval_every=0)
    assert result.stopped == "done" and evals == [3] and len(result.history) == 3
    loss, metric = trainer.evaluate("test", 2)
    assert loss == pytest.approx(metric)


def test_a_time_budget_stops_the_run_evaluated_and_saved(tmp_path):
    trainer, result, evals = _fit(tmp_path, max_minutes=1e-9, eval_every=0)
    assert result.stopped == "time" and result.step == 1 and evals == [1]
    assert (tmp_path / "checkpoint.pt").exists()


def test_every_logged_training_row_holds_the_step_s_loss(tmp_path):
    import csv
    trainer, result, _ = _fit(tmp_path, steps=4, eval_every=0, log_every=2)
    with open(tmp_path / "log.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train"]
    assert [int(r["step"]) for r in rows] == [2, 4]
    losses = {h["step"]: h["loss"] for h in result.history}
    assert [float(r["loss"]) for r in rows] == pytest.approx([losses[2], losses[4]], rel=1e-5)  # 6 digits


def test_output_directory_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "f"
    target.write_text("x")
    with pytest.raises(ValueError, match="exists and is a file"):
        Trainer(SequenceModel("gru", 2, 4, 1), TASK, TrainConfig(), target)


def test_penalty_needs_a_model_with_a_recurrent_layer():
    with pytest.raises(TypeError, match=r"penalty > 0 needs a model holding an rnnkit recurrent layer "
                                        r"\(rnnkit.RNN/LSTM/GRU/Recurrent\), got Linear, which holds none"):
        Trainer(torch.nn.Linear(2, 1), TASK, TrainConfig(penalty=0.1))


class _Wrapped(torch.nn.Module):
    """Not a SequenceModel: the penalty needs only some rnnkit layer inside."""

    def __init__(self):
        super().__init__()
        self.inner = SequenceModel("rnn", 2, 4, 1)

    def forward(self, x, state=None, resets=None):
        return self.inner(x, state, resets)


def test_any_model_holding_an_rnnkit_layer_can_take_the_penalty():
    torch.manual_seed(0)
    cfg = TrainConfig(steps=2, penalty=0.1, eval_every=0, progress=False, tensorboard=False)
    result = Trainer(_Wrapped(), TASK, cfg).fit()
    assert result.stopped == "done" and result.step == 2


class _Recorder(rnnkit.train.Hook):
    name = "events"

    def __init__(self):
        self.events = []

    def on_attach(self, trainer):
        self.events.append("attach")

    @contextmanager
    def around_forward(self, trainer):
        self.events.append("forward in")
        yield
        self.events.append("forward out")

    def objective(self, trainer, loss):
        self.events.append("objective")
        return 0.0 * loss

    def on_step_end(self, trainer):
        self.events.append(f"step {trainer.step}")

    def on_eval_end(self, trainer):
        self.events.append("eval")


def test_hooks_are_called_at_their_named_events_in_order():
    torch.manual_seed(0)
    cfg = TrainConfig(steps=2, eval_every=0, eval_batches=1, progress=False, tensorboard=False)
    trainer = Trainer(SequenceModel("gru", 2, 4, 1), TASK, cfg)
    hook = _Recorder()
    trainer.add_hook(hook)
    trainer.fit()
    assert hook.events == ["attach", "forward in", "forward out", "objective", "step 1",
                           "forward in", "forward out", "objective", "step 2", "eval"]
    assert trainer.hooks["events"] is hook
    with pytest.raises(ValueError, match="expected a new hook name, got 'events', which is already added"):
        trainer.add_hook(_Recorder())
    with pytest.raises(ValueError, match="expected event to be one of on_step_end, on_eval_end, got 'on_start'"):
        trainer.add_callback("on_start", print)
    with pytest.raises(TypeError, match="expected a hook with a non-empty str name"):
        trainer.add_hook(object())
