"""Outputs that cannot be written: every command that writes refuses an unwritable, impossible or misnamed
path in one line before it does any work, and leaves what is on disk as it was."""
import os

import pytest

from rnnkit.cli.main import main
from tests.faults.disk import refused, snapshot

TRAIN = ["train", "--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4", "--steps", "1",
         "--eval-every", "0", "--eval-batches", "1", "--no-progress", "--no-tensorboard"]
FORECAST = ["train", "--task", "forecast", "--steps", "1", "--eval-every", "0", "--no-progress", "--no-tensorboard"]
UNWRITABLE = "/proc/self"  # an existing directory in which no one, root included, can create a file


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    out = tmp_path_factory.mktemp("f") / "run"
    assert main([*FORECAST, "--out", str(out)]) == 0
    return out / "checkpoint.pt"


def _writers(where, forecaster):
    """Each command that writes, pointed at ``where`` (a directory, or a file name in it)."""
    return {
        "train": [*TRAIN, "--out", where],
        "diagnose": ["diagnose", "--length", "20", "--hidden-size", "4", "--out", where],
        "experiment": ["experiment", "1", "--quick", "--out", where],
        "esn-plot": ["esn", "--units", "20", "--plot", f"{where}/esn.png"],
        "esn-search": ["esn", "--search", "--units", "20", "--spectral-radius", "0.8,0.9", "--out", where],
        "forecast-table": ["forecast", forecaster, "--output", f"{where}/f.csv"],
        "forecast-plot": ["forecast", forecaster, "--plot", f"{where}/f.png"],
    }


@pytest.mark.parametrize("command", list(_writers("x", "c")))
def test_an_unwritable_output_is_one_line_before_any_work(tmp_path, capsys, forecaster, command):
    before = snapshot(forecaster.parent)
    line = refused(_writers(UNWRITABLE, forecaster)[command], capsys, "cannot write")
    assert UNWRITABLE in line and snapshot(forecaster.parent) == before
    assert "NRMSE" not in capsys.readouterr().out  # no work was done first


@pytest.mark.parametrize("command", list(_writers("x", "c")))
def test_an_output_under_a_file_is_one_line_and_the_file_is_kept(tmp_path, capsys, forecaster, command):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    refused(_writers(blocker, forecaster)[command], capsys, str(blocker))
    assert blocker.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory; /proc/self stands in")
@pytest.mark.parametrize("command", list(_writers("x", "c")))
def test_a_read_only_directory_is_one_line(tmp_path, capsys, forecaster, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused(_writers(locked, forecaster)[command], capsys, "cannot write")
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("flag, name", [("--plot", "f.pdf"), ("--plot", "f"), ("--output", "f.xlsx")])
def test_an_output_named_for_another_format_is_refused_before_any_work(tmp_path, capsys, forecaster, flag, name):
    before = snapshot(forecaster.parent)
    refused(["forecast", forecaster, flag, tmp_path / name], capsys, "expected a file name ending in")
    assert snapshot(forecaster.parent) == before and not (tmp_path / name).exists()
    refused(["esn", "--units", "20", "--plot", tmp_path / "e.svg"], capsys, "expected a file name ending in .png")
