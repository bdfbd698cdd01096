"""Trainer stop rules, callbacks and validation."""
import pytest
import torch

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


def test_output_directory_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "f"
    target.write_text("x")
    with pytest.raises(ValueError, match="exists and is a file"):
        Trainer(SequenceModel("gru", 2, 4, 1), TASK, TrainConfig(), target)


def test_penalty_needs_a_model_that_records_its_states():
    with pytest.raises(TypeError, match="penalty > 0 needs a model with record_trace/last_trace"):
        Trainer(torch.nn.Linear(2, 1), TASK, TrainConfig(penalty=0.1))
