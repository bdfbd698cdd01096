"""The Trainer keeps best.pt: the weights of the best validation loss, beside checkpoint.pt."""
import csv

import pytest
import torch

from rnnkit.data.tasks import AddingTask
from rnnkit.jobs.base import report_weights
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer, load_checkpoint

TASK = AddingTask(length=8, batch_size=8)


def _fit(out, **kw):
    torch.manual_seed(0)
    cfg = {"steps": 40, "eval_every": 5, "eval_batches": 1, "progress": False, "tensorboard": False,
           "lr": 0.05, **kw}
    trainer = Trainer(SequenceModel("gru", 2, 4, 1), TASK, TrainConfig(**cfg), out)
    return trainer, trainer.fit()


def _val_losses(out) -> dict:
    with open(out / "log.csv") as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f) if r["split"] == "val"}


def test_best_pt_holds_the_lowest_validation_loss(tmp_path):
    trainer, result = _fit(tmp_path)
    losses = _val_losses(tmp_path)
    best_step = min(losses, key=losses.get)
    assert result.best_step == best_step and result.best_val == pytest.approx(losses[best_step], rel=1e-5)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == best_step and best["trainer"]["best_val"] == result.best_val
    # the weights in best.pt score the best loss again
    trainer.raw_model.load_state_dict(best["model"])
    assert trainer.evaluate("val")[0] == pytest.approx(result.best_val, rel=1e-6)


def test_the_report_is_on_the_best_weights_unless_asked_for_the_last(tmp_path):
    trainer, result = _fit(tmp_path, lr=0.3)  # a high rate: the val loss does not keep falling
    last = {k: v.clone() for k, v in trainer.raw_model.state_dict().items()}
    assert result.best_step != result.step, "the run must end away from its best step to test the choice"
    line = report_weights(trainer, result, "last")
    assert line.startswith(f"report on the last weights (step {result.step}")
    assert all(torch.equal(v, last[k]) for k, v in trainer.raw_model.state_dict().items())
    line = report_weights(trainer, result, "best")
    assert line.startswith(f"report on the best weights by validation: step {result.best_step}, val loss ")
    best = load_checkpoint(tmp_path / "best.pt")["model"]
    assert all(torch.equal(v, best[k]) for k, v in trainer.raw_model.state_dict().items())


def test_without_validation_there_is_no_best(tmp_path):
    trainer, result = _fit(tmp_path, steps=3, eval_every=0, lr=0.0)
    # the final validation is the only one, so best.pt is the last step's
    assert result.best_step == 3 and (tmp_path / "best.pt").exists()
    assert report_weights(trainer, result).startswith("report on the last weights (step 3), also the best")


def test_resume_keeps_the_best_so_far(tmp_path):
    trainer, first = _fit(tmp_path, steps=20)
    again = Trainer(SequenceModel("gru", 2, 4, 1), TASK, TrainConfig(steps=40, eval_every=5, eval_batches=1, lr=0.05,
                                                                      progress=False, tensorboard=False), tmp_path)
    again.load(tmp_path / "checkpoint.pt")
    assert again.best_val == first.best_val and again.best_step == first.best_step
    second = again.fit()
    assert second.best_val <= first.best_val
