import pytest
import torch

from rnnkit.data import read_csv_series


def write(tmp_path, text, name="s.csv", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_reads_a_named_column_with_header(tmp_path):
    path = write(tmp_path, "t,value\n0,1.5\n1,2.5\n2,-3\n")
    torch.testing.assert_close(read_csv_series(path, "value"), torch.tensor([1.5, 2.5, -3.0], dtype=torch.float64))
    torch.testing.assert_close(read_csv_series(path, "0"), torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64))


def test_default_is_the_last_column_and_no_header(tmp_path):
    path = write(tmp_path, "1,10\n2,20\n\n3,30\n")
    torch.testing.assert_close(read_csv_series(path), torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64))


@pytest.mark.parametrize("content, mode, message", [
    pytest.param("", "w", "is empty", id="empty"),
    pytest.param(b"\x00\x01\x02binary", "wb", "looks binary", id="binary"),
    pytest.param("a,b\n", "w", "has a header but no data rows", id="header-only"),
    pytest.param("a,b\n1,2\n3\n", "w", "row 3 has 1 columns, expected 2", id="ragged"),
    pytest.param("a,b\n1,2\n3,x\n", "w", "row 3 column 'b': expected a number, got 'x'", id="not-a-number"),
    pytest.param("a,b\n1,2\n3,nan\n", "w", "row 3 column 'b': the value is missing", id="nan"),
])
def test_bad_files(tmp_path, content, mode, message):
    with pytest.raises(ValueError, match=message):
        read_csv_series(write(tmp_path, content, mode=mode))


def test_bad_columns_and_missing_file(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"has no column 'c' \(columns: 'a', 'b'\)"):
        read_csv_series(path, "c")
    with pytest.raises(ValueError, match="has 2 columns, got column index 5"):
        read_csv_series(path, 5)
    with pytest.raises(ValueError, match="cannot read"):
        read_csv_series(tmp_path / "missing.csv")


def test_missing_values_can_be_filled(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,nan\n5,6\n")
    torch.testing.assert_close(read_csv_series(path, missing="fill"), torch.tensor([2.0, 4.0, 6.0], dtype=torch.float64))
