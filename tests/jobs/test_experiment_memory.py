"""Experiments 8-10 (memory horizon, adding at T = 1,000, fill-in-the-blank): each --quick run against a band.

The quick runs train for a fixed number of steps (deterministic). Their bands are the claims: a tanh RNN
recalls 5 steps back and is at chance 50 back where a chrono-initialised LSTM still recalls; minGRU solves
adding (test MSE < 0.01) where a tanh RNN stays near the 1/6 baseline; a blank is filled better from both
sides than from the left alone, by more than the spread between seeds. About 20 s on one thread.
"""
import json
import math

import pytest

from rnnkit.jobs.experiments import EXPERIMENTS
from rnnkit.jobs.experiments.memory import _flow_horizon, _horizons
from tests.jobs.documented import AXES, assert_documented


pytestmark = pytest.mark.usefixtures("one_thread")


def _table(lines: list[str], first_header: str) -> tuple[list[str], dict[str, list[str]]]:
    """The Markdown table whose header starts with ``first_header``: (header cells, first cell -> row cells)."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], cells[1:]))
    return header, rows


def test_exp8_a_tanh_rnn_forgets_within_50_steps_where_a_chrono_lstm_recalls(tmp_path, axis_labels):
    lines = EXPERIMENTS[8](tmp_path, quick=True)
    assert_documented(lines)
    assert axis_labels == AXES[8]
    _, rows = _table(lines, "cell")
    tanh, lstm = rows["tanh, default init"], rows["LSTM, chrono"]
    assert float(tanh["k=5"]) >= 0.9 and float(lstm["k=5"]) >= 0.9
    assert float(tanh["k=50"]) < 0.25 <= 0.9 <= float(lstm["k=50"])  # documented 0.127 and 0.994
    assert tanh["recalls (>= 90%) up to k"] == "5" and tanh["at chance (< 25%) from k"] == "50"
    assert lstm["recalls (>= 90%) up to k"] == "50" and lstm["at chance (< 25%) from k"] == "> 50"
    assert float(tanh["gradient decay/step"]) < 0.7 < 0.95 < float(lstm["gradient decay/step"])  # 0.598, 0.964
    assert float(tanh["gradient-flow horizon (lags)"]) < 15 < 60 < float(lstm["gradient-flow horizon (lags)"])
    data = json.loads((tmp_path / "exp8.json").read_text())
    assert [p["k"] for p in data["LSTM, chrono"]["points"]] == [5, 50]
    assert all(p["steps"] == 500 for d in data.values() for p in d["points"])
    assert len(data["tanh, default init"]["flow_at_init"]) == 10 + 1 + 50  # one ratio per lag of the k=50 batch
    assert (tmp_path / "exp8_horizon.png").stat().st_size > 0 and (tmp_path / "exp8_flow.png").stat().st_size > 0


def test_exp8_full_gives_every_point_the_same_wall_time(tmp_path, monkeypatch):
    from rnnkit.jobs.experiments import memory
    seen = []

    def fake(model, task, **kwargs):
        seen.append((task.length, kwargs["max_minutes"], kwargs["steps"]))
        return {"steps": 1, "seconds": 1.0, "stopped": "time", "val_loss": 2.0, "val_metric": 0.125}
    monkeypatch.setattr(memory, "train", fake)
    lines = memory.experiment8(tmp_path)
    assert [k for k, _, _ in seen] == list(memory.LAGS) * len(memory.CONFIGS)
    assert {(m, s) for _, m, s in seen} == {(10 / 60, 10 ** 7)}  # 10 s each, the step budget never the limit
    assert "10 s of training per point" in lines[0]


@pytest.mark.parametrize("accuracies, expected", [
    pytest.param((1.0, 1.0, 0.5, 0.1), ("10", "50"), id="recalls-then-chance"),
    pytest.param((1.0, 0.5, 0.95, 0.3), ("5", "> 50"), id="a-dip-ends-the-recall"),
    pytest.param((0.6, 0.1, 0.1, 0.1), ("none", "10"), id="never-recalls"),
])
def test_horizons_read_the_curve_from_short_lags_up(accuracies, expected):
    assert _horizons((5, 10, 20, 50), accuracies) == expected


def test_flow_horizon_is_the_lag_that_leaves_one_percent():
    assert _flow_horizon(0.5) == pytest.approx(math.log(100) / math.log(2))
    assert _flow_horizon(1.0) == math.inf and _flow_horizon(1.2) == math.inf and _flow_horizon(math.nan) == math.inf


def test_exp9_mingru_solves_adding_where_tanh_stays_at_baseline(tmp_path, axis_labels):
    lines = EXPERIMENTS[9](tmp_path, quick=True)
    assert_documented(lines)
    assert axis_labels == AXES[9]
    _, rows = _table(lines, "model")
    assert float(rows["minGRU"]["test MSE"]) < 0.01 and rows["minGRU"]["solved"] == "yes"  # documented 0.00728
    assert float(rows["tanh, default init"]["test MSE"]) > 0.1 and rows["tanh, default init"]["solved"] == "no"
    data = json.loads((tmp_path / "exp9.json").read_text())
    assert data["minGRU"]["steps"] == 1200 and math.isfinite(data["minGRU"]["test_loss"])
    assert data["minGRU"]["test_loss"] != data["minGRU"]["val_loss"]  # scored on its own test batches


def test_exp10_both_directions_fill_blanks_better_than_either_side(tmp_path, axis_labels):
    lines = EXPERIMENTS[10](tmp_path, quick=True)
    assert_documented(lines)
    assert axis_labels == AXES[10]
    data = json.loads((tmp_path / "exp10.json").read_text())
    assert [run["seed"] for run in data["runs"]] == [0, 1]
    for run in data["runs"]:
        left, right, both = (run["test"][h] for h in ("left", "right", "both"))
        assert both["accuracy"] > left["accuracy"] + 0.01 and both["accuracy"] > right["accuracy"] + 0.01
        assert both["perplexity"] < left["perplexity"] < right["perplexity"]  # quick: 129 < 168 < 218 (seed 0)
        assert run["test"]["words"] > 5000
    assert data["margin_both_minus_left"] > data["spread"] > 0
    assert lines[-1].endswith("the margin is larger")
    assert (tmp_path / "exp10_fill.png").stat().st_size > 0
