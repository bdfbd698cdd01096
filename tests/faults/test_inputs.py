"""Hostile and careless inputs: FIFOs and devices refused before they are opened, files too large refused
before they are read, and NaN, Inf and out-of-range numbers in every input format (series CSV, sequence
CSV and NPZ, TOML config, flags) refused in one line that names where they are; nothing is written."""
import os

import numpy as np
import pytest

from rnnkit.cli.main import main
from tests.faults.disk import refused, sparse_file


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


FORECAST = ["train", "--task", "forecast", "--steps", "1", "--no-progress", "--no-tensorboard"]
CLASSIFY = ["train", "--task", "classify", "--steps", "1", "--no-progress", "--no-tensorboard"]
SERIES = "v\n" + "".join(f"{i % 7}\n" for i in range(60))  # a valid series, one cell replaced per case


@pytest.mark.parametrize("cell, text", [
    ("nan", "the value is missing; use --missing fill"),
    ("-nan", "the value is missing; use --missing fill"),
    ("+NaN", "the value is missing; use --missing fill"),
    ("inf", "expected a finite number within +-3.4e+38"),
    ("-Infinity", "expected a finite number within +-3.4e+38"),
    ("1e308", "expected a finite number within +-3.4e+38"),
    ("-4e38", "expected a finite number within +-3.4e+38"),
    ("0x10", "expected a number, got '0x10'"),
])
@pytest.mark.parametrize("command", ["forecast", "esn"])
def test_bad_numbers_in_a_series_csv_are_one_line_with_the_row(tmp_path, capsys, cell, text, command):
    path = tmp_path / "s.csv"
    path.write_text(SERIES.replace("\n3\n", f"\n{cell}\n", 1))
    out = tmp_path / "o"
    argv = [*FORECAST, "--csv", path, "--out", out] if command == "forecast" else \
        ["esn", "--task", "csv", "--csv", path, "--units", "20", "--plot", "none"]
    line = refused(argv, capsys, text)
    assert "row 5 column 'v'" in line and not out.exists()


@pytest.mark.parametrize("content, text", [
    ("a,1,2\nb,nan,3\n", "row 2 column 2: expected a finite number"),
    ("a,1,2\nb,1,-inf\n", "row 2 column 3: expected a finite number"),
    ("a,1,2\nb,1e39,3\n", "row 2 column 2: expected a finite number"),
    ("a,1,2\nb,x,3\n", "row 2 column 2: expected a number, got 'x'"),
])
def test_bad_numbers_in_a_sequence_csv_are_one_line(tmp_path, capsys, content, text):
    _file_refused(tmp_path, capsys, "s.csv", lambda p: p.write_text(content), [*CLASSIFY, "--sequences"], text)


def _file_refused(tmp_path, capsys, name: str, write, argv: list, text: str) -> None:
    """Write ``tmp_path/name`` with ``write(path)`` and run ``argv PATH --out o``: refused, and no ``o`` made."""
    path = tmp_path / name
    write(path)
    refused([*argv, path, "--out", tmp_path / "o"], capsys, text)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("arrays, text", [
    ({"x": [[1.0, np.nan], [2, 3]]}, "x[0, 1, 0] is nan, expected finite numbers"),
    ({"x": [[1.0, 2], [np.inf, 3]]}, "x[1, 0, 0] is inf, expected finite numbers"),
    ({"x": [[1.0, 2], [3, 1e300]]}, "x[1, 1, 0] is 1e+300, expected finite numbers"),
    ({"x": [["a", "b"], ["c", "d"]]}, "x is of dtype <U1, expected integers or floats"),
    ({"x": [[1.0, 2], [3, 4]], "lengths": [1.5, 2.0]}, "expected integer lengths"),
    ({"x": np.zeros((2, 0))}, "expected no empty axis"),
])
def test_bad_arrays_in_a_sequence_npz_are_one_line(tmp_path, capsys, arrays, text):
    write = lambda p: np.savez(p, y=np.array([0, 1]), **{k: np.asarray(v) for k, v in arrays.items()})
    _file_refused(tmp_path, capsys, "s.npz", write, [*CLASSIFY, "--sequences"], text)


@pytest.mark.parametrize("toml, text", [
    ("lr = nan\n", "expected lr to be a finite number, got nan"),
    ("max_minutes = inf\n", "expected max_minutes to be a finite number, got inf"),
    ("target_loss = -nan\n", "expected target_loss to be a finite number, got nan"),
    ("hidden_size = 1e400\n", "expected hidden_size to be int, got float inf"),
    ("steps = -3\n", "expected steps >= 1, got -3"),
])
def test_bad_numbers_in_a_toml_config_are_one_line(tmp_path, capsys, toml, text):
    _file_refused(tmp_path, capsys, "run.toml", lambda p: p.write_text(toml), ["train", "--task", "adding",
                                                                              "--config"], text)


@pytest.mark.parametrize("flags, text", [
    (["--lr", "nan"], "expected lr to be a finite number, got nan"),
    (["--max-minutes", "nan"], "expected max_minutes to be a finite number, got nan"),
    (["--target-loss", "inf"], "expected target_loss to be a finite number, got inf"),
    (["--hidden-size", "1000000000"], "would take"),
    (["--batch-size", "1000000000000"], "would take"),
    (["--threads", "100000"], "expected --threads between 1 and"),
])
def test_bad_numbers_as_flags_are_one_line(tmp_path, capsys, flags, text):
    refused(["train", "--task", "adding", *flags, "--out", tmp_path / "o"], capsys, text)
    assert not (tmp_path / "o").exists()


def test_files_larger_than_rnnkit_reads_are_refused_before_reading(tmp_path, capsys):
    huge = sparse_file(tmp_path / "huge.txt", (4 << 30) + 1)  # a hole: no disk used
    refused(["train", "--task", "lm", "--text", huge, "--out", tmp_path / "o"], capsys,
            f"holds {(4 << 30) + 1} bytes, more than rnnkit reads")
    refused(["eval", sparse_file(tmp_path / "huge.pt", (4 << 30) + 1)], capsys, "more than rnnkit reads")


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    out = tmp_path_factory.mktemp("f") / "run"
    assert main([*FORECAST, "--eval-every", "0", "--out", str(out)]) == 0
    return out / "checkpoint.pt"


def test_a_checkpoint_that_names_a_fifo_as_its_data_is_refused_at_once(tmp_path, capsys, forecaster, fifo):
    from rnnkit.train import atomic_save, load_checkpoint

    ckpt = load_checkpoint(forecaster)
    ckpt["config"]["job"]["csv"] = str(fifo)  # forecast re-reads its series from the path it was trained on
    atomic_save(ckpt, tmp_path / "c.pt")
    refused(["forecast", tmp_path / "c.pt", "--output", tmp_path / "f.csv", "--plot", tmp_path / "f.png"], capsys,
            "is a FIFO (named pipe), expected a regular file")
    assert sorted(os.listdir(tmp_path)) == ["c.pt", "pipe"]


@pytest.mark.parametrize("argv, text", [
    (["--task", "forecast", "--season", "0"], "expected season >= 1, got 0"),
    (["--task", "lm", "--max-vocab", "0"], "expected max_vocab >= 2, got 0"),
    (["--task", "lm", "--temperature", "nan"], "expected temperature to be a finite number, got nan"),
    (["--task", "classify", "--val-fraction", "1.5"], "val_fraction"),
])
def test_bad_job_settings_are_one_line(tmp_path, capsys, argv, text):
    refused(["train", *argv, "--out", tmp_path / "o"], capsys, text)
    assert not (tmp_path / "o").exists()
