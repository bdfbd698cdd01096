"""Divergence driven on purpose: a run whose every step is NaN/Inf stops with one line and exit 1, names
its last good checkpoint only when there is one, and leaves that checkpoint untouched."""
import csv

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint
from tests.faults.disk import snapshot

RUN = ["train", "--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4", "--eval-every", "0",
       "--eval-batches", "1", "--no-progress", "--no-tensorboard", "--optimizer", "sgd", "--clip-norm", "none",
       "--max-nonfinite", "3"]


def test_a_run_that_diverges_from_the_start_says_no_checkpoint_was_written(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*RUN, "--steps", "50", "--lr", "1e38", "--out", str(out)]) == 1
    said = capsys.readouterr()
    assert said.out == ("rnnkit train: stopped: 3 steps in a row had a NaN/Inf loss or gradient (last lr 1.25e+37); "
                        "no checkpoint was written\n")
    assert said.err.count("step skipped, lr lowered") == 3 and "Traceback" not in said.err
    assert not (out / "checkpoint.pt").exists()


def test_a_resumed_run_that_diverges_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*RUN, "--steps", "3", "--lr", "0.01", "--out", str(out)]) == 0
    good = load_checkpoint(out / "checkpoint.pt")
    checkpoints = {k: v for k, v in snapshot(out).items() if k.endswith(".pt")}
    capsys.readouterr()
    assert main([*RUN, "--steps", "50", "--lr", "1e38", "--out", str(out), "--resume"]) == 1
    said = capsys.readouterr()
    assert f"the last good checkpoint is {out / 'checkpoint.pt'}" in said.out + said.err
    assert "Traceback" not in said.err
    assert {k: v for k, v in snapshot(out).items() if k.endswith(".pt")} == checkpoints
    assert load_checkpoint(out / "checkpoint.pt")["step"] == good["step"] == 3
    with open(out / "log.csv", newline="") as f:
        events = [r for r in csv.DictReader(f) if r["event"]]
    assert len(events) == 3 and len({r["step"] for r in events}) == 1  # one step tried three times, each logged
    assert all("step skipped, lr lowered" in r["event"] for r in events)
