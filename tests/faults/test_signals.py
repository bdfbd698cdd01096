"""Kills and signals during training and during a checkpoint write: the last checkpoint always loads,
SIGINT and SIGTERM stop at a step boundary with a checkpoint, and a resumed run logs each step once."""
import csv
import signal
import subprocess
import sys
import time

import pytest

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint

RUN = ["--task", "adding", "--length", "10", "--hidden-size", "8", "--batch-size", "8", "--eval-every", "0",
       "--no-progress", "--no-tensorboard", "--threads", "1"]


def _start(out, *extra, prelude=""):
    code = prelude + "import sys\nfrom rnnkit.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.Popen([sys.executable, "-c", code, "train", *RUN, "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_rows(proc, out, rows: int) -> None:
    deadline = time.monotonic() + 90
    while not (out / "log.csv").exists() or len((out / "log.csv").read_text().splitlines()) < rows + 1:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def _steps_logged(out):
    with open(out / "log.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r["split"] == "train"]


def _resume_to(out, steps: int) -> None:
    assert main(["train", *RUN, "--steps", str(steps), "--out", str(out), "--resume"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["step"] == steps
    assert _steps_logged(out) == list(range(1, steps + 1))  # each step once, none lost, none repeated
    assert not list(out.glob(".*.tmp"))


def test_sigkill_mid_run_leaves_a_checkpoint_that_loads_and_resumes(tmp_path):
    out = tmp_path / "run"
    proc = _start(out, "--steps", "100000", "--checkpoint-every", "1")
    _wait_for_rows(proc, out, 5)
    time.sleep(0.3)  # many more checkpoints are written: the kill lands at an arbitrary moment
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    step = load_checkpoint(out / "checkpoint.pt")["step"]
    assert step >= 5
    _resume_to(out, step + 2)


DIE_IN_THE_THIRD_WRITE = """
import os, signal, torch
real_save, writes = torch.save, []
def dying_save(obj, f, *args, **kwargs):
    writes.append(1)
    if len(writes) == 3:  # half a zip in the temporary file, then the process is killed
        f.write(b"PK\\x03\\x04" + bytes(4000))
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(obj, f, *args, **kwargs)
torch.save = dying_save
"""


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one_and_the_next_start_cleans_up(tmp_path):
    out = tmp_path / "run"
    proc = _start(out, "--steps", "100", "--checkpoint-every", "1", prelude=DIE_IN_THE_THIRD_WRITE)
    proc.communicate(timeout=90)
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 2  # the third write (step 3) died half-way
    assert len(list(out.glob(".checkpoint.pt.*.tmp"))) == 1 and _steps_logged(out) == [1, 2, 3]
    _resume_to(out, 4)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_at_a_step_boundary_with_a_checkpoint(tmp_path, sig):
    out = tmp_path / "run"
    proc = _start(out, "--steps", "1000000", "--checkpoint-every", "0")
    _wait_for_rows(proc, out, 3)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted at step" in stdout and "Traceback" not in stderr
    assert "rnnkit: interrupted; checkpoint written at step" in stderr
    step = load_checkpoint(out / "checkpoint.pt")["step"]
    assert step >= 3 and _steps_logged(out) == list(range(1, step + 1))
    _resume_to(out, step + 1)
