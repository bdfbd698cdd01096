"""``rnnkit forecast``'s files: the CSV's columns say what they are; the plot shows the split, not all history."""
import csv

import numpy as np
import pytest

from rnnkit.data.series import Series
from rnnkit.jobs import forecast_files

matplotlib = pytest.importorskip("matplotlib")


def fake_result(values: np.ndarray, origins: np.ndarray, horizon: int) -> dict:
    """Truth from ``values``; the model off by +1, the baselines by -2 and +3, so each column is recognisable."""
    truth = values[origins[:, None] + np.arange(horizon)]  # (n, K)
    return {"origins": origins, "truth": truth, "model": truth + 1.0, "naive": truth - 2.0, "seasonal": truth + 3.0}


def yearly(n: int = 100, first_year: int = 1901) -> tuple[Series, list[str]]:
    values = 50 + 40 * np.sin(np.arange(n) * 2 * np.pi / 11)
    series = Series(values, "SUNACTIVITY", tuple(str(first_year + i) for i in range(n)))
    return series, forecast_files.labels_of(series)


def test_csv_columns_name_the_last_observed_value_and_the_target(tmp_path):
    series, labels = yearly(20)
    origins = np.array([15, 16, 17, 18])  # index of each first forecast value
    result = fake_result(series.values, origins, horizon=2)
    forecast_files.write_table(tmp_path / "f.csv", result, labels, np.array([7.0, 8.0]))
    rows = list(csv.reader(open(tmp_path / "f.csv")))
    assert rows[0] == ["last_observed", "step", "target", "truth", "forecast", "naive", "seasonal_naive"]
    assert len(rows) == 1 + 4 * 2 + 2
    assert [r[:3] for r in rows[1:3]] == [["1915", "1", "1916"], ["1915", "2", "1917"]]
    assert rows[1][3] == f"{series.values[15]:.6g}" and rows[1][4] == f"{series.values[15] + 1:.6g}"
    assert [r[:3] for r in rows[-3:]] == [["1918", "2", "1920"], ["1920", "1", "1921"], ["1920", "2", "1922"]]
    assert rows[-1][3:] == ["", "8", "", ""]


@pytest.mark.parametrize("labels, beyond", [
    pytest.param(["1998", "1999", "2000"], ["2001", "2002"], id="years"),
    pytest.param(["0", "1", "2"], ["3", "4"], id="row-numbers"),
    pytest.param(["0", "0.5", "1"], ["+1", "+2"], id="non-integer"),
    pytest.param(["2024-01", "2024-02", "2024-03"], ["+1", "+2"], id="text-dates"),
])
def test_labels_beyond_the_end(labels, beyond):
    assert forecast_files.labels_beyond(labels, 2) == beyond


@pytest.mark.parametrize("dates, xlabel", [
    pytest.param(tuple(str(1700 + i) for i in range(5)), "year", id="years"),
    pytest.param(tuple(str(0.25 * i) for i in range(5)), "date", id="numeric-dates"),
    pytest.param(tuple(f"d{i}" for i in range(5)), "date", id="text-dates"),
    pytest.param(None, "row of the series", id="no-dates"),
])
def test_time_axis_says_year_only_for_integer_spaced_numbers(dates, xlabel):
    series = Series(np.zeros(5), "v", dates)
    assert forecast_files.time_axis(series, forecast_files.labels_of(series))[1] == xlabel


def test_window_is_the_split_and_some_history_not_the_whole_series():
    origins = np.arange(260, 305)  # 45 origins, horizon 2: targets 260..305
    assert forecast_files.window(309, origins, 2) == (260 - 46, 305)
    assert forecast_files.window(309, origins, 2, season=11) == (260 - 33, 305)
    assert forecast_files.window(309, np.arange(10, 20), 2) == (0, 20)  # not before the first value


def captured_figure(monkeypatch, call):
    """Run ``call`` with pyplot.close recorded instead of closing; the figure it drew."""
    from matplotlib import pyplot as plt

    closed = []
    monkeypatch.setattr(plt, "close", closed.append)
    call()
    assert len(closed) == 1
    fig = closed[0]
    monkeypatch.undo()
    plt.close(fig)
    return fig


def test_plot_shows_the_split_in_years_with_the_legend_off_the_axes(tmp_path, monkeypatch):
    series, labels = yearly(309, first_year=1700)  # 1700..2008, as the bundled sunspots
    origins = np.arange(263, 308)  # first forecast years 1963..2007
    result = fake_result(series.values, origins, horizon=2)
    path = tmp_path / "f.png"
    fig = captured_figure(monkeypatch, lambda: forecast_files.plot(path, series, result, np.array([1.0, 2.0]),
                                                                   "test", labels))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    top, bottom = fig.axes
    left, right = bottom.get_xlim()
    assert 1900 < left < 1963 and right == 2008 + 2 + 1  # the split, years before it, the 2 beyond, a margin
    assert top.get_xlim() == bottom.get_xlim()
    assert bottom.get_xlabel() == "year" and top.get_ylabel() == "SUNACTIVITY"
    fig.canvas.draw()
    for ax in (top, bottom):
        assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1
    errors = {line.get_label().split("\n")[0]: line.get_ydata() for line in bottom.get_lines()[1:]}
    assert list(errors) == ["model", "naive (last value)", "seasonal naive"]
    np.testing.assert_allclose(errors["model"], 1.0)  # forecast - truth at each origin, one step ahead
    np.testing.assert_allclose(errors["naive (last value)"], -2.0)
    np.testing.assert_allclose(errors["seasonal naive"], 3.0)
    lines = {line.get_label(): line for line in top.get_lines()}
    truth, ahead = lines["truth (test split)"], lines["model beyond the end (2 steps)"]
    np.testing.assert_array_equal(truth.get_xdata(), np.arange(1963, 2009))  # the split's targets, to the end
    np.testing.assert_array_equal(truth.get_ydata(), series.values[263:])
    np.testing.assert_array_equal(ahead.get_xdata(), [2008, 2009, 2010])  # from the last value on
    np.testing.assert_array_equal(ahead.get_ydata(), [series.values[-1], 1.0, 2.0])
    for name, key in (("model, 1 step ahead", "model"), ("naive (last value)", "naive")):
        np.testing.assert_array_equal(lines[name].get_ydata(), result[key][:, 0])  # the 1-step-ahead column
    history = lines["history (not forecast)"]
    assert history.get_xdata()[0] > 1900 and history.get_xdata()[-1] == 1963
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in lines.values()]
    assert len(set(colours)) == len(colours), "every line of the forecast plot has its own colour"


def test_plot_of_a_middle_split_leaves_the_forecast_beyond_the_end_out(tmp_path, monkeypatch):
    series = Series(np.sin(np.arange(200) / 5.0), "load", tuple(f"day {i}" for i in range(200)))
    labels = forecast_files.labels_of(series)
    result = fake_result(series.values, np.arange(140, 169), horizon=2)  # targets 140..169, far from the end
    fig = captured_figure(monkeypatch, lambda: forecast_files.plot(tmp_path / "v.png", series, result,
                                                                   np.array([0.0, 0.0]), "val", labels, season=7))
    top, bottom = fig.axes
    assert bottom.get_xlim() == (140 - 21 - 1, 169 + 1)  # 3 seasons of history, one step of margin
    assert bottom.get_xlabel() == "date" and all(t.get_text().startswith("day ") for t in bottom.get_xticklabels())
    assert "model beyond the end (2 steps)" not in [line.get_label() for line in top.get_lines()]
