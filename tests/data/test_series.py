"""CSV series: columns, dates, missing values; ForecastTask windows and splits."""
import pytest
import torch

from rnnkit.data.series import ForecastTask, read_series


def _csv(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_column_by_name_or_index_with_dates(tmp_path):
    path = _csv(tmp_path, "date,a,b\n2020-01,1,10\n2020-02,2,20\n2020-03,3,30\n")
    s = read_series(path, column="a", date_column="date")
    assert s.values.tolist() == [1, 2, 3] and s.name == "a" and s.dates == ("2020-01", "2020-02", "2020-03")
    assert read_series(path).values.tolist() == [10, 20, 30]  # default: the last column
    assert read_series(path, column="1").name == "a"


def test_missing_values_are_rejected_with_the_row_or_interpolated(tmp_path):
    path = _csv(tmp_path, "t,v\n0,1\n1,\n2,NA\n3,4\n4,5\n")
    with pytest.raises(ValueError, match="row 3 column 'v': the value is missing; use --missing fill"):
        read_series(path)
    filled = read_series(path, missing="fill")
    assert filled.values.tolist() == [1, 2, 3, 4, 5] and filled.filled == 2


@pytest.mark.parametrize("content, kwargs, text", [
    pytest.param("t,v\n0,1\n1,abc\n", {}, "row 3 column 'v': expected a number, got 'abc'", id="non-numeric"),
    pytest.param("t,v\n0,1\n", {"column": "price"}, "has no column 'price' (columns: 't', 'v')", id="missing-column"),
    pytest.param("t,v\n0,1\n", {"column": "5"}, "has 2 columns, got column index 5", id="bad-index"),
    pytest.param("", {}, "is empty", id="empty"),
    pytest.param("t,v\n", {}, "has a header but no data rows", id="header-only"),
    pytest.param("t,v\n0,1\n1,2,3\n", {}, "row 3 has 3 columns, expected 2", id="ragged"),
])
def test_bad_csv_is_one_line(tmp_path, content, kwargs, text):
    with pytest.raises(ValueError) as exc:
        read_series(_csv(tmp_path, content), **kwargs)
    assert text in str(exc.value) and "\n" not in str(exc.value)


def test_binary_and_non_utf8_csv(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="looks binary"):
        read_series(tmp_path / "b.csv")
    (tmp_path / "l.csv").write_bytes("caf\u00e9\n1\n".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8"):
        read_series(tmp_path / "l.csv")


def test_windows_targets_and_splits():
    z = torch.arange(100, dtype=torch.float32)
    task = ForecastTask(z, length=5, horizon=3, batch_size=4, val_fraction=0.2, test_fraction=0.2)
    assert task.bounds == {"train": (0, 60), "val": (60, 80), "test": (80, 100)}
    batch = task.batch("train", 0)
    assert batch.x.shape == (5, 4, 1) and batch.y.shape == (5, 4, 3) and bool((batch.weight == 1).all())
    assert torch.equal(batch.y[:, :, 0], batch.x[:, :, 0] + 1) and torch.equal(batch.y[:, :, 2], batch.x[:, :, 0] + 3)
    assert int(batch.y.max()) < 60  # training targets stay inside the training part
    test = task.batch("test", 0)
    assert task.origins("test").tolist() == list(range(80, 98))
    assert test.x[:, 0, 0].tolist() == [75, 76, 77, 78, 79] and test.y[-1, 0].tolist() == [80, 81, 82]
    assert test.weight[-1].sum() == 18 and test.weight[:-1].sum() == 0


def test_series_shorter_than_the_window_is_refused():
    with pytest.raises(ValueError, match="the series has 20 values, too short for window 24 \\+ horizon 2"):
        ForecastTask(torch.zeros(20), length=24, horizon=2)


def test_a_negative_column_index_counts_from_the_end_down_to_minus_the_width():
    text = "x,y,z\n1,2,3\n4,5,6\n7,8,9\n"
    first = read_series("a.csv", column="-3", text=text)
    assert first.values.tolist() == [1.0, 4.0, 7.0]
    with pytest.raises(ValueError, match=r"has 3 columns, got column index -4"):
        read_series("a.csv", column="-4", text=text)


def test_forecast_training_batches_are_a_function_of_seed_split_and_index():
    task = ForecastTask(torch.sin(torch.arange(300.0) / 7), length=8, horizon=2, batch_size=6, seed=3)
    torch.manual_seed(0)
    first = task.batch("train", 2).x
    torch.manual_seed(1)  # the global generator plays no part
    assert torch.equal(first, task.batch("train", 2).x)
    assert not torch.equal(first, task.batch("train", 3).x)
