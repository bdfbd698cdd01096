"""``rnnkit esn --search``: grids, the ranked table, heatmap, best configuration; bad grids are one line."""
import csv
import json
import math

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.jobs.esn_search import grid_values

SMALL = ["esn", "--units", "20", "--train", "600", "--test", "200", "--warmup", "50", "--plot", "none"]


def test_grid_values_ranges_lists_and_single_numbers():
    assert grid_values("leak_rate", "0.3:1:5") == (0.3, 0.475, 0.65, 0.825, 1.0)
    assert grid_values("ridge", "1e-10,1e-8") == (1e-10, 1e-8)
    assert grid_values("ridge", "1e-6") == (1e-6,)
    assert grid_values("leak_rate", "0.5:0.9:1") == (0.5,)
    for bad in ("a:b:c", "0.1:1:0", "1,,2", "nan"):
        with pytest.raises(ValueError, match="--leak-rate: expected"):
            grid_values("leak_rate", bad)


def test_search_writes_a_ranked_table_heatmap_and_the_best(tmp_path, capsys, monkeypatch):
    from matplotlib.axes import Axes
    drawn = []
    imshow = Axes.imshow

    def keep(ax, data, **kwargs):
        drawn.append((ax, data.copy()))
        return imshow(ax, data, **kwargs)
    monkeypatch.setattr(Axes, "imshow", keep)
    out = tmp_path / "search"
    assert main([*SMALL, "--search", "--spectral-radius", "0.7,1.0", "--leak-rate", "0.5:1:3",
                 "--ridge", "1e-8,1e-4", "--seeds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("searching 24 fits: 12 reservoirs x 2 ridge values, 20 units")
    assert "test one-step NRMSE, refitted on all training steps: best " in printed
    with open(out / "search.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and [int(r["rank"]) for r in rows] == list(range(1, 25))
    scores = [float(r["val_nrmse"]) for r in rows]
    assert scores == sorted(scores)
    assert {"spectral_radius", "leak_rate", "input_scaling", "seed", "ridge", "esp_distance"} <= set(rows[0])
    best = json.loads((out / "best.json").read_text())
    assert best["reservoir"]["spectral_radius"] == float(rows[0]["spectral_radius"])
    assert best["reservoir"]["seed"] == int(rows[0]["seed"]) and best["series_seed"] == 0
    readout = torch.load(out / "best_readout.pt", weights_only=True)
    assert readout["weight"].shape == (1, 21)  # 20 states + the input
    assert (out / "search.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (ax, shown), = drawn  # the heatmap: each cell the best val NRMSE over the other axes, log10
    across, up = ax.get_xlabel().replace(" ", "_"), ax.get_ylabel().replace(" ", "_")
    assert {across, up} <= {"spectral_radius", "leak_rate", "ridge"} and across != up
    xs = sorted({float(r[across]) for r in rows})
    ys = sorted({float(r[up]) for r in rows})
    assert shown.shape == (len(ys), len(xs))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            best = min(float(r["val_nrmse"]) for r in rows if float(r[across]) == x and float(r[up]) == y)
            assert shown[i, j] == pytest.approx(math.log10(best), rel=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["--leak-rate", "0.5,0.9"], "--leak-rate: several values need --search"),
    (["--search", "--ridge", "-1"], "expected every ridge penalty finite and >= 0"),
    (["--search", "--leak-rate", "0:1:x"], "--leak-rate: expected a number, a list"),
    (["--search", "--seeds", "0"], "--seeds: expected an int >= 1, got 0"),
])
def test_bad_grids_are_one_line(argv, message, tmp_path, capsys):
    assert main([*SMALL, *argv, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_seeds_count_up_from_seed_esp_failures_are_counted_and_the_folder_is_made(tmp_path, capsys):
    out = tmp_path / "new" / "search"
    argv = [*SMALL, "--search", "--spectral-radius", "0.5,3", "--leak-rate", "1", "--ridge", "1e-8,1e-4",
            "--seed", "5", "--seeds", "2", "--out", str(out)]
    for _ in range(2):  # a second search into the same folder replaces its files
        capsys.readouterr()
        assert main(argv) == 0
        printed = capsys.readouterr().out
        with open(out / "search.csv") as f:
            rows = list(csv.DictReader(f))
        assert sorted({int(r["seed"]) for r in rows}) == [5, 6]
        assert "\n1 of 4 reservoirs keep self-sustained activity (no echo state property" in printed


def test_the_warmup_must_leave_steps_to_fit(tmp_path, capsys):
    assert main([*SMALL, "--search", "--warmup", "480", "--out", str(tmp_path / "s")]) == 2  # 80 % of 600
    assert "expected --warmup < 80 % of --train (480) for the search's fitting part, got 480" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def _result(grid: dict, scores: dict):
    """A search result over ``grid`` whose val NRMSE is ``scores[(sr, leak)]``."""
    from types import SimpleNamespace
    rows = [{"spectral_radius": sr, "leak_rate": a, "ridge": 1e-6, "val_nrmse": scores[sr, a]}
            for sr in grid["spectral_radius"] for a in grid["leak_rate"]]
    return SimpleNamespace(grid={**grid, "ridge": [1e-6]}, rows=rows)


def test_the_heatmap_axes_are_those_along_which_the_best_score_moves_most_ignoring_failed_fits():
    from rnnkit.jobs.esn_search import important_axes
    grid = {"spectral_radius": [0.9, 1.5], "leak_rate": [0.3, 1.0]}
    # spectral radius 1.5 diverged (inf) at every leak: along it the finite bests are 0.1 vs none
    result = _result(grid, {(0.9, 0.3): 0.1, (0.9, 1.0): 0.4, (1.5, 0.3): math.inf, (1.5, 1.0): math.inf})
    assert important_axes(result) == ("leak_rate", "spectral_radius")  # spread 4 against 1 (one finite best)
    exact = _result(grid, {(0.9, 0.3): 0.0, (0.9, 1.0): 0.2, (1.5, 0.3): 0.1, (1.5, 1.0): 0.3})
    assert important_axes(exact) == ("spectral_radius", "leak_rate")  # a zero best is left out, not divided by
