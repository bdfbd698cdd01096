"""Each command that reads a checkpoint refuses one of another task in one line naming the command and the fix."""
import pytest

from rnnkit.cli.main import main
from rnnkit.train.checkpoint import FORMAT, atomic_save, load_checkpoint


def _checkpoint(path, task: str):
    atomic_save({"format": FORMAT, "step": 1, "config": {"task": task}, "model": {}}, path)
    return path


@pytest.mark.parametrize("command, task, more", [("classify", "classify", []), ("fill", "fill", ["a ___ b"]),
                                                 ("generate", "lm", []), ("forecast", "forecast", [])])
def test_a_checkpoint_of_another_task_is_refused_naming_the_command(tmp_path, capsys, command, task, more):
    path = _checkpoint(tmp_path / "c.pt", "adding")
    assert main([command, str(path), *more]) == 2
    assert capsys.readouterr().err == (f"rnnkit {command}: error: checkpoint {path} was written for task 'adding'; "
                                       f"rnnkit {command} needs a checkpoint of task {task!r} "
                                       f"(rnnkit train --task {task})\n")


def test_diagnose_refuses_a_checkpoint_of_a_task_it_cannot_diagnose(tmp_path, capsys):
    path = _checkpoint(tmp_path / "c.pt", "lm")
    assert main(["diagnose", "--checkpoint", str(path), "--out", str(tmp_path / "d")]) == 2
    assert capsys.readouterr().err == (f"rnnkit diagnose: error: checkpoint {path} was written for task 'lm'; only "
                                       "synthetic-task checkpoints (adding, copy, recall, lookahead, horizon) can "
                                       "be diagnosed\n")
    assert not (tmp_path / "d").exists()


def test_weights_that_do_not_fit_the_checkpoint_s_own_config_are_named(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--length", "8", "--hidden-size", "4", "--batch-size", "4", "--steps", "1",
                 "--eval-every", "0", "--no-progress", "--no-tensorboard", "--out", str(run)]) == 0
    ckpt = load_checkpoint(run / "checkpoint.pt")
    ckpt["model"] = {k: v for k, v in ckpt["model"].items() if "head" not in k}
    path = tmp_path / "cut.pt"
    atomic_save(ckpt, path)
    capsys.readouterr()
    assert main(["diagnose", "--checkpoint", str(path), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rnnkit diagnose: error: checkpoint {path} does not fit its own model config: ")
    assert "head.weight" in err and err.count("\n") == 1
