"""Inputs that are not regular files are refused at once, never read: FIFOs block, devices never end."""
import os

import pytest

from rnnkit.cli.main import main


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)  # opening it for reading would block until a writer came: rnnkit must not open it
    return path


def _refused(argv, capsys, text):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1, err


@pytest.mark.parametrize("flag, task", [("--text", "lm"), ("--csv", "forecast"), ("--sequences", "classify")])
def test_a_fifo_as_data_is_refused_at_once(tmp_path, capsys, fifo, flag, task):
    _refused(["train", "--task", task, flag, str(fifo), "--out", str(tmp_path / "o")], capsys,
             "is a FIFO (named pipe), expected a regular file")
    assert not (tmp_path / "o").exists()


def test_a_fifo_as_config_or_checkpoint_is_refused_at_once(tmp_path, capsys, fifo):
    _refused(["train", "--config", str(fifo), "--out", str(tmp_path / "o")], capsys, "is a FIFO (named pipe)")
    _refused(["eval", str(fifo)], capsys, "is a FIFO (named pipe)")


def test_a_device_as_text_is_refused(tmp_path, capsys):
    _refused(["train", "--task", "lm", "--text", "/dev/zero", "--out", str(tmp_path / "o")], capsys,
             "'/dev/zero' is a device or socket, expected a regular file")
