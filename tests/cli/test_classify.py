"""``rnnkit train --task classify`` and ``rnnkit classify``: accuracy beside the majority class, bad input."""
import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint

TINY = ["--task", "classify", "--hidden-size", "4", "--batch-size", "8", "--steps", "2", "--eval-every", "0",
        "--eval-batches", "1", "--no-progress", "--no-tensorboard"]


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cl")
    rng = np.random.default_rng(0)
    rows = [f"{'up' if i % 2 else 'down'}," + ",".join(f"{v:.3f}" for v in np.cumsum(
        rng.normal(1 if i % 2 else -1, 1, rng.integers(3, 9)))) for i in range(60)]
    (root / "walks.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", *TINY, "--sequences", str(root / "walks.csv"), "--bidirectional", "--pooling", "mean",
                 "--out", str(root / "run")]) == 0
    return root


def test_bundled_digits_report_accuracy_and_majority(tmp_path, capsys):
    assert main(["train", *TINY, "--report-on", "last", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    line = next(text for text in printed.splitlines() if text.startswith("test: accuracy"))
    assert "over 270 sequences (always answering the most frequent training label '" in line
    assert "; the most frequent label here, '" in line
    cfg = load_checkpoint(tmp_path / "r" / "checkpoint.pt")["config"]
    assert cfg["task"] == "classify" and cfg["model_input_size"] == 3 and len(cfg["task_mean"]) == 3
    assert cfg["task_majority"] in cfg["task_classes"]
    # rnnkit classify on the same weights and split prints the same line, both baselines included
    assert main(["classify", str(tmp_path / "r" / "checkpoint.pt")]) == 0
    assert "test: " + capsys.readouterr().out.splitlines()[0] == line


def test_classify_a_file_and_the_test_split(csv_run, capsys):
    capsys.readouterr()
    ckpt = str(csv_run / "run" / "checkpoint.pt")
    assert main(["classify", ckpt]) == 0
    assert "over 9 sequences" in capsys.readouterr().out
    out = csv_run / "labels.csv"
    assert main(["classify", ckpt, "--sequences", str(csv_run / "walks.csv"), "--output", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert lines[0] == "index,label,predicted" and len(lines) == 61 and lines[2].split(",")[1] == "up"


def test_classify_labels_the_test_split_training_held_out_under_any_fractions(csv_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["train", *TINY, "--sequences", str(csv_run / "walks.csv"), "--val-fraction", "0.3",
                 "--test-fraction", "0.2", "--report-on", "last", "--out", str(tmp_path / "r")]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("test: accuracy"))
    assert "over 12 sequences" in line  # 20 % of 60
    assert main(["classify", str(tmp_path / "r" / "checkpoint.pt")]) == 0
    assert "test: " + capsys.readouterr().out.splitlines()[0] == line


def test_foreign_labels_features_and_checkpoints_are_refused(csv_run, tmp_path, capsys):
    ckpt = str(csv_run / "run" / "checkpoint.pt")
    keep = tmp_path / "keep.csv"
    keep.write_text("precious")
    (tmp_path / "other.csv").write_text("left,1,2\nright,3\n")
    capsys.readouterr()
    assert main(["classify", ckpt, "--sequences", str(tmp_path / "other.csv"), "--output", str(keep)]) == 2
    assert "label(s) 'left', 'right' are not among the model's classes 'down', 'up'" in capsys.readouterr().err
    np.savez(tmp_path / "wide.npz", x=np.zeros((4, 3, 2)), y=np.array([0, 1, 0, 1]))
    assert main(["classify", ckpt, "--sequences", str(tmp_path / "wide.npz"), "--output", str(keep)]) == 2
    assert "have 2 feature(s) per step, the model expects 1" in capsys.readouterr().err
    assert keep.read_text() == "precious"
    assert main(["generate", ckpt]) == 2
    assert "was written for task 'classify'; rnnkit generate needs" in capsys.readouterr().err


def test_bad_sequence_file_for_training(tmp_path, capsys):
    (tmp_path / "bin.csv").write_bytes(b"\x00\x00\x00")
    assert main(["train", *TINY, "--sequences", str(tmp_path / "bin.csv"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "looks binary" in err and err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_eval_reports_accuracy_on_the_split(csv_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(csv_run / "run" / "checkpoint.pt")]) == 0
    assert capsys.readouterr().out.startswith("test: accuracy")


def test_a_checkpoint_without_a_step_restores_as_step_0(csv_run):
    from rnnkit import jobs
    ckpt = load_checkpoint(csv_run / "run" / "checkpoint.pt")
    assert jobs.restore_checkpoint(dict(ckpt), "run.pt")[1].step == 2
    del ckpt["step"]
    assert jobs.restore_checkpoint(ckpt, "run.pt")[1].step == 0
