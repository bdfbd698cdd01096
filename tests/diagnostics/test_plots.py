"""The diagnostics' plots draw the numbers they are given, with the legends off the data."""
import math

import pytest
import torch

from rnnkit.diagnostics import plots
from rnnkit.diagnostics.gates import GateStats
from rnnkit.diagnostics.spectral import spectrum

pytest.importorskip("matplotlib")


def legend_is_right_of(ax) -> bool:
    ax.figure.canvas.draw()
    return ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1


def test_curves_keep_their_values_and_pair_each_reference_with_its_curve(tmp_path, drawn):
    curves = {"rho 0.9": ([0, 1, 2], [1.0, 0.9, 0.81]), "rho 1.1": ([0, 1, 2], [1.0, 1.1, 0.0])}
    reference = {"0.9^t": ([0, 1, 2], [1.0, 0.9, 0.81]), "1.1^t": ([0, 1, 2], [1.0, 1.1, 1.21])}
    path = plots.plot_curves(curves, tmp_path / "c.png", title="t", ylabel="||h_t||", reference=reference)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (ax,) = drawn[0].axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["rho 0.9", "rho 1.1", "0.9^t", "1.1^t"]
    assert list(lines[1].get_ydata()[:2]) == [1.0, 1.1] and math.isnan(lines[1].get_ydata()[2])  # 0: a gap
    assert lines[2].get_color() == lines[0].get_color() and lines[3].get_color() == lines[1].get_color()
    assert lines[2].get_linestyle() == "--" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "||h_t||" and legend_is_right_of(ax)


def test_eigenvalues_name_each_block_and_its_radius(tmp_path, drawn):
    blocks = [spectrum(torch.diag(torch.tensor([0.5, -0.25], dtype=torch.float64)), "l0.h")]
    plots.plot_eigenvalues(blocks, tmp_path / "e.png")
    (ax,) = drawn[0].axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["unit circle |λ| = 1", "l0.h: spectral radius ρ = 0.5"]
    assert sorted(ax.collections[0].get_offsets()[:, 0].tolist()) == [-0.25, 0.5]
    assert ax.get_xlabel() == "Re λ" and ax.get_ylabel() == "Im λ" and legend_is_right_of(ax)


def test_gates_show_a_negative_tanh_mean_and_label_every_value(tmp_path, drawn):
    stats = GateStats({"i": 0.9, "f": 0.95, "g": 0.0, "o": 0.1}, {"i": 0.02, "f": 0.98, "g": -0.4, "o": 0.5},
                      "f", 0.05)
    plots.plot_gates([stats, stats], tmp_path / "g.png")
    saturated, mean = drawn[0].axes
    assert [p.get_height() for p in saturated.patches[:4]] == [0.9, 0.95, 0.0, 0.1]
    assert mean.get_ylim()[0] < -0.4 < 0.98 < mean.get_ylim()[1]
    assert mean.collections[0].get_offsets()[:, 1].tolist() == [0.02, 0.98, -0.4, 0.5]
    assert {t.get_text() for t in mean.texts} == {"0.02", "0.98", "-0.4", "0.5"}
    assert [t.get_text() for t in saturated.get_xticklabels()] == ["i", "f", "g (tanh)", "o"]
    assert legend_is_right_of(mean)
