"""A run directory: another run in it is refused unless --resume or --overwrite; stale temporary files go."""
import os

import pytest

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint
from rnnkit.train.rundir import clear, prepare_run_dir

TINY = ["--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4", "--steps", "2",
        "--eval-every", "0", "--eval-batches", "1", "--no-progress", "--no-tensorboard"]


def _snapshot(out):
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_a_run_directory_is_not_replaced_without_being_asked(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["train", *TINY, "--task", "copy", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"rnnkit train: error: output directory {out} already holds a run (checkpoint.pt of task "
                   f"'adding' at step 2); --resume continues it, --overwrite replaces it, or give another --out\n")
    assert _snapshot(out) == before


def test_overwrite_replaces_the_run_and_only_its_files(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "4", "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    assert main(["train", *TINY, "--task", "copy", "--overwrite", "--out", str(out)]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["config"]["task"] == "copy"
    assert load_checkpoint(out / "best.pt")["step"] <= 2
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and rows.count(rows[0]) == 1 and len(rows) == 1 + 2 + 1  # 2 train rows, 1 val
    assert (out / "notes.txt").read_text() == "mine"


def test_an_overwrite_that_is_refused_for_another_reason_changes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    before = _snapshot(out)
    assert main(["train", *TINY, "--overwrite", "--threads", "0", "--out", str(out)]) == 2
    assert "expected --threads between 1 and" in capsys.readouterr().err and _snapshot(out) == before


def test_stale_temporary_files_of_killed_writes_are_removed(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (out / ".other.tmp").write_bytes(b"not ours")
    _, remove = prepare_run_dir(out)
    clear(remove)
    assert sorted(p.name for p in out.iterdir()) == [".other.tmp"]


def test_the_run_folder_api_refuses_another_run_unless_asked(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    with pytest.raises(ValueError, match="already holds a run"):
        prepare_run_dir(out)
    assert prepare_run_dir(out, resume=True)[0] == out and (out / "checkpoint.pt").exists()


@pytest.mark.parametrize("threads", ["0", "100000"])
def test_thread_counts_are_bounded(tmp_path, capsys, threads):
    assert main(["train", *TINY, "--threads", threads, "--out", str(tmp_path / "o")]) == 2
    assert f"expected --threads between 1 and {4 * os.cpu_count()}" in capsys.readouterr().err


def test_an_output_directory_that_cannot_be_made_is_one_line_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    assert main(["train", *TINY, "--out", str(blocker / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rnnkit train: error: cannot write into output directory {blocker / 'run'}: ")
    assert err.count("\n") == 1 and blocker.read_text() == "keep"
    assert main(["train", *TINY, "--out", "/proc/rnnkit-run"]) == 2
    assert "cannot write into output directory /proc/rnnkit-run" in capsys.readouterr().err
