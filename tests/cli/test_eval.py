"""``rnnkit eval`` in-process: evaluates a checkpoint; bad checkpoints give one line and exit 2."""
from rnnkit.cli.main import main


def test_eval_reports_test_loss_and_metric(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--length", "8", "--hidden-size", "6", "--batch-size", "4", "--steps", "2",
                 "--eval-every", "0", "--no-progress", "--no-tensorboard", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out / "checkpoint.pt"), "--batches", "2", "--batch-size", "16"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("adding length 8, lstm H=6, step 2: test loss ") and "over 32 sequences" in line
    assert "memoryless baseline loss 0.166667" in line


def test_eval_bad_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    assert main(["eval", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit eval: error: checkpoint") and "unreadable" in err and err.count("\n") == 1
    assert main(["eval", str(tmp_path / "missing.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
