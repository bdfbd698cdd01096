"""Checkpoints: exact resume, Ctrl-C, SIGKILL, interrupted writes and bad files."""
import os
import re
import signal
import threading

import pytest
import torch

from rnnkit.data.tasks import AddingTask, CopyTask
from rnnkit.models import SequenceModel
from rnnkit.train import CheckpointError, TrainConfig, Trainer, atomic_save, load_checkpoint
from rnnkit.train import checkpoint as ckpt_module

TASK = CopyTask(length=4, batch_size=4)  # T = 24, targets at every step


class Dropped(SequenceModel):
    """Dropout on the outputs, so training draws from the global RNG that a checkpoint must restore."""

    def forward(self, x, state=None, resets=None):
        output, state = super().forward(x, state, resets)
        return torch.nn.functional.dropout(output, 0.3, self.training), state


def _trainer(out, steps=12, seed=0, task=TASK, hidden=8, **kw):
    torch.manual_seed(seed)
    cfg = TrainConfig(steps=steps, tbptt=8, eval_every=5, progress=False, tensorboard=False, checkpoint_every=0,
                      **kw)
    return Trainer(Dropped("lstm", task.input_size, hidden, task.output_size), task, cfg, out)


def _stop_at(step):
    def callback(trainer):
        if trainer.step == step:
            trainer.request_stop()
    return callback


@pytest.mark.parametrize("how", ["fit-resume", "load-then-fit"])
def test_interrupted_and_resumed_run_reproduces_the_losses_bit_for_bit(tmp_path, how):
    whole = _trainer(tmp_path / "a").fit()
    first = _trainer(tmp_path / "b")
    first.add_callback("on_step_end", _stop_at(5))  # mid-batch: windows of 8 in T = 24
    stopped = first.fit()
    assert stopped.stopped == "interrupted" and stopped.step == 5
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["carry"] is not None
    fresh = _trainer(tmp_path / "b", seed=123)  # other initial weights and RNG state: all must be restored
    if how == "fit-resume":
        resumed = fresh.fit(resume=tmp_path / "b" / "checkpoint.pt")
    else:
        fresh.load(tmp_path / "b" / "checkpoint.pt")
        resumed = fresh.fit()
    losses = [h["loss"] for h in stopped.history + resumed.history]
    assert losses == [h["loss"] for h in whole.history]
    assert [h["grad_norm"] for h in stopped.history + resumed.history] == [h["grad_norm"] for h in whole.history]


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_ctrl_c_writes_a_checkpoint_and_returns(tmp_path):
    trainer = _trainer(tmp_path, steps=50)
    trainer.add_callback("on_step_end", lambda t: os.kill(os.getpid(), signal.SIGINT) if t.step == 3 else None)
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started in the background
    result = trainer.fit()
    assert result.stopped == "interrupted" and result.step == 3
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # the handler was put back


def test_checkpoint_holds_everything_to_resume(tmp_path):
    import rnnkit

    _trainer(tmp_path, steps=2).fit()
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert {"model", "optimizer", "scheduler", "rng", "position", "step", "config", "rnnkit_version"} <= set(ckpt)
    assert ckpt["rnnkit_version"] == rnnkit.__version__ and ckpt["step"] == 2 and ckpt["config"]["task"] == "copy"
    assert set(ckpt["rng"]) == {"torch", "cuda", "numpy", "python"}


def test_a_kill_between_write_and_rename_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    atomic_save({"format": ckpt_module.FORMAT, "step": 1}, path)
    before = path.read_bytes()

    def killed(src, dst):
        raise KeyboardInterrupt("killed before the rename")
    monkeypatch.setattr(ckpt_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"format": ckpt_module.FORMAT, "step": 2}, path)
    assert path.read_bytes() == before and load_checkpoint(path, required=())["step"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.pt"]  # no temporary file left behind


@pytest.mark.parametrize("content, text", [
    pytest.param(None, "does not exist", id="missing"),
    pytest.param(b"", "is unreadable (truncated or not an rnnkit checkpoint)", id="empty"),
    pytest.param("truncate", "is unreadable (truncated or not an rnnkit checkpoint)", id="truncated"),
    pytest.param("foreign", "expected format 'rnnkit-checkpoint-1', got None", id="foreign"),
])
def test_bad_checkpoint_files_give_one_clear_error(tmp_path, content, text):
    path = tmp_path / "checkpoint.pt"
    if content == "truncate":
        _trainer(tmp_path, steps=1).fit()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif content == "foreign":
        torch.save({"weights": torch.zeros(2)}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(text)):
        load_checkpoint(path)


def test_checkpoint_of_another_task_or_shape_is_refused_and_kept(tmp_path):
    _trainer(tmp_path, steps=1).fit()
    path = tmp_path / "checkpoint.pt"
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="written for task='copy', this run has task='adding'"):
        _trainer(tmp_path, task=AddingTask(10, 4)).load(path)
    with pytest.raises(CheckpointError, match="does not fit this model: .*size mismatch"):
        _trainer(tmp_path, hidden=9).load(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("change, text", [
    pytest.param(lambda c: c.update(config=["not", "a", "dict"]), "its field 'config' is a list, expected dict",
                 id="config-a-list"),
    pytest.param(lambda c: c.pop("rng"), "lacks the field 'rng'", id="no-rng"),
    pytest.param(lambda c: c.update(carry="a string"), "its field 'carry' is a str, expected Tensor or tuple or list",
                 id="carry-a-string"),
    pytest.param(lambda c: c.update(step=True), "its field 'step' is a bool, expected int", id="step-a-bool"),
    pytest.param(lambda c: c["trainer"].pop("bad_evals"), "its RNG state or trainer counters are damaged",
                 id="no-counter"),
])
def test_a_well_formed_checkpoint_with_a_broken_field_is_one_clear_error(tmp_path, change, text):
    trainer = _trainer(tmp_path)
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    change(ckpt)
    atomic_save(ckpt, tmp_path / "broken.pt")
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match=re.escape(text)):
        _trainer(tmp_path).load(tmp_path / "broken.pt")
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
