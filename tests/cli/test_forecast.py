"""``rnnkit train --task forecast`` and ``rnnkit forecast``: report, CSV, PNG, bad input."""
import csv

import pytest

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint

TINY = ["--task", "forecast", "--length", "8", "--horizon", "2", "--hidden-size", "4", "--batch-size", "4",
        "--steps", "3", "--eval-every", "0", "--no-progress", "--no-tensorboard"]


@pytest.fixture(scope="module")
def sunspots_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "run"
    assert main(["train", *TINY, "--transform", "sqrt", "--out", str(out)]) == 0
    return out


def test_train_reports_model_and_both_baselines(sunspots_run, tmp_path, capsys):
    assert main(["train", *TINY, "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "test: 45 origins x 2 steps ahead" in printed
    for label in ("model", "naive (last value)", "seasonal naive (m=11)"):
        assert label in printed
    cfg = load_checkpoint(sunspots_run / "checkpoint.pt")["config"]
    assert cfg["task"] == "forecast" and cfg["task_std"] > 0 and cfg["job"]["transform"] == "sqrt"


def test_forecast_writes_csv_and_png(sunspots_run, capsys):
    capsys.readouterr()
    assert main(["forecast", str(sunspots_run / "checkpoint.pt")]) == 0
    printed = capsys.readouterr().out
    assert "beyond the end (2 steps):" in printed and "NRMSE" in printed
    rows = list(csv.reader(open(sunspots_run / "forecast.csv")))
    assert rows[0] == ["last_observed", "step", "target", "truth", "forecast", "naive", "seasonal_naive"]
    assert rows[1][:4] == ["1962", "1", "1963", "27.9"] and rows[2][:4] == ["1962", "2", "1964", "10.2"]
    assert rows[1][5] == rows[2][5] == "37.6"  # naive: the value at last_observed (1962)
    assert rows[-2][:4] == ["2008", "1", "2009", ""] and rows[-1][:3] == ["2008", "2", "2010"]
    assert rows[-1][3] == rows[-1][5] == rows[-1][6] == "" and rows[-3][:3] == ["2006", "2", "2008"]
    assert len(rows) == 1 + 45 * 2 + 2
    assert (sunspots_run / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_csv_with_a_chosen_column_and_missing_values(tmp_path, capsys):
    path = tmp_path / "series.csv"
    lines = ["day,temp,note"] + [f"d{i},{'' if i == 30 else (i % 7) * 1.5},x" for i in range(120)]
    path.write_text("\n".join(lines) + "\n")
    argv = ["train", *TINY, "--csv", str(path), "--column", "temp", "--date-column", "day", "--season", "7"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    assert "row 32 column 'temp': the value is missing" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main([*argv, "--missing", "fill", "--out", str(tmp_path / "r")]) == 0
    assert main(["forecast", str(tmp_path / "r" / "checkpoint.pt")]) == 0
    rows = list(csv.reader(open(tmp_path / "r" / "forecast.csv")))
    assert rows[1][:3] == ["d101", "1", "d102"] and rows[-1][:3] == ["d119", "2", "+2"]


@pytest.mark.parametrize("content, extra, text", [
    pytest.param("t,v\n0,1\n1,x\n", [], "row 3 column 'v': expected a number, got 'x'", id="non-numeric"),
    pytest.param("t,v\n0,1\n", ["--column", "price"], "has no column 'price'", id="missing-column"),
    pytest.param("t,v\n" + "".join(f"{i},{i}\n" for i in range(12)), [], "too short for window 8", id="short"),
    pytest.param("", [], "is empty", id="empty"),
])
def test_bad_series_is_one_line_and_exit_2(tmp_path, capsys, content, extra, text):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["train", *TINY, "--csv", str(path), *extra, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert text in err and err.startswith("rnnkit train: error:") and err.count("\n") == 1


def test_forecast_refuses_other_checkpoints_and_keeps_files(sunspots_run, tmp_path, capsys):
    keep = tmp_path / "keep.csv"
    keep.write_text("precious")
    assert main(["train", "--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4",
                 "--steps", "1", "--eval-every", "0", "--no-progress", "--no-tensorboard",
                 "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["forecast", str(tmp_path / "a" / "checkpoint.pt"), "--output", str(keep)]) == 2
    assert "was written for task 'adding'; rnnkit forecast needs a checkpoint of task 'forecast'" in \
        capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("YEAR,SUNACTIVITY\n1,2\n")
    assert main(["forecast", str(sunspots_run / "checkpoint.pt"), "--csv", str(bad), "--output", str(keep)]) == 2
    assert "too short" in capsys.readouterr().err and keep.read_text() == "precious"


def test_eval_prints_the_table_for_a_split(sunspots_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(sunspots_run / "checkpoint.pt"), "--split", "val"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("val: 45 origins x 2 steps ahead") and "seasonal naive (m=11)" in printed
