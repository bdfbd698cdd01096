"""Run logs: CSV rows, and a one-line notice when TensorBoard is not installed."""
import sys

import pytest

from rnnkit.train.logs import RunLog


def test_csv_rows_and_missing_tensorboard_notice(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    log = RunLog(tmp_path, enabled=True, total=2, initial=0, progress=False, tensorboard=True, metric_name="mse")
    log.row(1, "train", loss=0.5, grad_norm=2.0)
    log.row(1, "val", loss=0.25, metric=0.25)
    log.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TensorBoard logging is off: the 'tensorboard' package is not installed" in err
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "step,split,loss,metric,grad_norm,lr,tokens_per_s,elapsed_s,event"
    assert lines[1].startswith("1,train,0.5,,2,,,") and lines[2].startswith("1,val,0.25,0.25,")


def test_tensorboard_events_are_written(tmp_path):
    pytest.importorskip("torch.utils.tensorboard", reason="the optional 'tensorboard' extra is not installed")
    log = RunLog(tmp_path, enabled=True, total=1, initial=0, progress=False, tensorboard=True, metric_name="mse")
    log.row(1, "train", loss=0.5)
    log.close()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tensorboard").iterdir())
