"""``rnnkit.set_deterministic`` and ``--deterministic``: two runs are bit-identical on the CPU."""
import csv
import subprocess
import sys

import torch

import rnnkit
from rnnkit.train import load_checkpoint

RUN = ["--task", "copy", "--cell", "gru", "--length", "12", "--hidden-size", "16", "--batch-size", "8",
       "--steps", "30", "--eval-every", "10", "--no-progress", "--no-tensorboard", "--threads", "2",
       "--deterministic"]


def _train(out):
    result = subprocess.run([sys.executable, "-m", "rnnkit", "train", *RUN, "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(out / "log.csv", newline="") as f:
        losses = [(r["step"], r["split"], r["loss"], r["grad_norm"]) for r in csv.DictReader(f)]
    return load_checkpoint(out / "checkpoint.pt"), losses


def test_two_deterministic_runs_in_separate_processes_are_bit_identical(tmp_path):
    (a, log_a), (b, log_b) = _train(tmp_path / "a"), _train(tmp_path / "b")
    assert log_a == log_b and len(log_a) == 33
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert a["config"]["train"]["deterministic"] is True


def test_set_deterministic_seeds_every_generator():
    import random

    import numpy as np

    draws = []
    for _ in range(2):
        rnnkit.set_deterministic(7)
        draws.append((torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()))
    assert draws[0] == draws[1]
    assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(False)  # leave this test process as it was
    torch.backends.cudnn.deterministic = False
