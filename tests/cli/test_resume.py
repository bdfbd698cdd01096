"""``rnnkit train --resume``: the run continues with its own settings, flags given change them (and are
applied, not ignored), and ``log.csv`` holds each step once."""
import csv

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint

TINY = ["--length", "8", "--hidden-size", "6", "--batch-size", "4", "--eval-every", "2", "--no-progress",
        "--no-tensorboard", "--checkpoint-every", "0"]


def _rows(out):
    with open(out / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_resume_without_flags_keeps_the_runs_own_settings(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "3", "--lr", "0.02", "--clip-norm", "none", "--optimizer", "sgd",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--steps", "5"]) == 0
    assert "resuming" in capsys.readouterr().out
    train = load_checkpoint(out / "checkpoint.pt")["config"]["train"]
    assert (train["lr"], train["clip_norm"], train["optimizer"], train["steps"]) == (0.02, None, "sgd", 5)
    assert {float(r["lr"]) for r in _rows(out) if r["split"] == "train"} == {0.02}


def test_lr_given_on_resume_is_applied_from_the_next_step_and_reported(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "3", "--lr", "0.02", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--steps", "5", "--lr", "0.001"]) == 0
    said = capsys.readouterr().out
    assert "changed: steps 3 -> 5, lr 0.02 -> 0.001" in said
    lrs = {int(r["step"]): float(r["lr"]) for r in _rows(out) if r["split"] == "train"}
    assert lrs == {1: 0.02, 2: 0.02, 3: 0.02, 4: 0.001, 5: 0.001}
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 0.001 and ckpt["config"]["train"]["lr"] == 0.001


def test_a_cut_learning_rate_keeps_its_ratio_when_the_lr_is_changed_on_resume():
    import torch

    from rnnkit.train import TrainConfig
    from rnnkit.train.optim import build_optimizer, build_scheduler, retune, scale_lr

    cfg = TrainConfig(lr=0.1, schedule="step", step_size=2, gamma=0.5)
    model = torch.nn.Linear(2, 1)
    opt = build_optimizer(model.parameters(), cfg)
    sched = build_scheduler(opt, cfg)
    for _ in range(3):
        opt.step()
        sched.step()
    scale_lr(opt, sched, 0.5)  # a non-finite step halved it: 0.1 * 0.5 (schedule) * 0.5 (cut)
    assert opt.param_groups[0]["lr"] == 0.025
    retune(opt, sched, TrainConfig(lr=0.01, schedule="step", step_size=2, gamma=0.5), vars(cfg))
    assert sched.base_lrs == [0.005] and abs(opt.param_groups[0]["lr"] - 0.0025) < 1e-15


def test_the_optimizer_cannot_change_on_resume_and_nothing_is_touched(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--steps", "4", "--optimizer", "sgd"]) == 2
    err = capsys.readouterr().err
    assert "written with optimizer='adam', this run has optimizer='sgd'" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_resumed_run_logs_each_step_once(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "4", "--out", str(out)]) == 0
    # a run killed after step 6 whose last checkpoint is at step 4 left rows for steps 5 and 6
    with open(out / "log.csv", "a", newline="") as f:
        f.write("5,train,1.0,0.5,0.1,0.005,100,1.0,\n6,train,1.0,0.5,0.1,0.005,100,1.0,\n6,val,1.0,0.5,,,,,\n")
    assert main(["train", "--out", str(out), "--resume", "--steps", "6"]) == 0
    rows = [(int(r["step"]), r["split"]) for r in _rows(out)]
    assert len(rows) == len(set(rows)), rows
    assert [s for s, split in rows if split == "train"] == [1, 2, 3, 4, 5, 6]
    assert [s for s, split in rows if split == "val"] == [2, 4, 6]
