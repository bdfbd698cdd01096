"""What each diagnostics plot says around its data: titles, axis labels, scales, grids, legends, layout, files."""
import math
from types import SimpleNamespace

import pytest
import torch

from rnnkit.diagnostics import plots
from rnnkit.diagnostics.gates import GateStats
from rnnkit.diagnostics.spectral import spectrum

pytest.importorskip("matplotlib")


def gridded(axis) -> bool:
    axis.axes.figure.canvas.draw()
    return any(line.get_visible() for line in axis.get_gridlines())


def constrained(fig) -> bool:
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    return isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)


def test_curves_have_their_title_labels_scales_and_a_grid(tmp_path, drawn):
    plots.plot_curves({"a": ([1, 2, 3], [0.5, 0.25, 0.125])}, tmp_path / "c.png", title="decay", xscale="log",
                      yscale="linear", marker="o-")
    (ax,) = drawn[0].axes
    assert ax.get_title() == "decay" and ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "lag k (steps back from the last step)"
    assert ax.get_ylabel() == "||dL/dh_(T-k)|| / ||dL/dh_T||"
    assert ax.get_lines()[0].get_marker() == "o" and list(ax.get_lines()[0].get_ydata()) == [0.5, 0.25, 0.125]
    assert gridded(ax.xaxis) and gridded(ax.yaxis) and constrained(drawn[0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a"]


def test_unpaired_references_keep_colours_of_their_own(tmp_path, drawn):
    curves = {"x": ([0, 1], [1.0, 2.0]), "y": ([0, 1], [2.0, 3.0])}
    plots.plot_curves(curves, tmp_path / "c.png", title="t", reference={"bound": ([0, 1], [3.0, 3.0])})
    lines = drawn[0].axes[0].get_lines()
    assert lines[2].get_label() == "bound" and lines[2].get_color() not in (lines[0].get_color(),
                                                                             lines[1].get_color())


@pytest.mark.parametrize("directions, labels", [(1, ["layer 0", "layer 1"]),
                                                (2, ["layer 0", "layer 0 reverse", "layer 1", "layer 1 reverse"])])
def test_gradient_flow_draws_one_curve_per_layer_and_direction_against_the_step(tmp_path, drawn, directions, labels):
    norms = torch.arange(1.0, 2 * directions * 4 + 1).reshape(2, directions, 4)  # (L, D, T)
    flow = SimpleNamespace(num_layers=2, num_directions=directions, length=4, norms=norms)
    plots.plot_gradient_flow(flow, tmp_path / "f.png")
    (ax,) = drawn[0].axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == labels
    assert list(lines[-1].get_xdata()) == [0, 1, 2, 3] and list(lines[-1].get_ydata()) == norms[1, -1].tolist()
    assert ax.get_title() == "gradient norm vs time step" and ax.get_xlabel() == "time step t"
    assert ax.get_ylabel() == "gradient norm ||dL/dh_t||" and ax.get_yscale() == "log"


def test_eigenvalues_lie_against_a_closed_unit_circle_with_equal_axes(tmp_path, drawn):
    plots.plot_eigenvalues([spectrum(torch.eye(2, dtype=torch.float64) * 0.5, "l0.h")], tmp_path / "e.png")
    (ax,) = drawn[0].axes
    circle = ax.get_lines()[0]
    xs, ys = circle.get_xdata(), circle.get_ydata()
    assert all(abs(math.hypot(x, y) - 1) < 1e-12 for x, y in zip(xs, ys))
    assert abs(xs[0] - xs[-1]) < 1e-12 and abs(ys[0] - ys[-1]) < 1e-12  # the circle closes on itself
    gaps = [math.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i]) for i in range(len(xs) - 1)]
    assert max(gaps) - min(gaps) < 1e-9  # evenly drawn: no short last segment
    assert ax.get_title() == "eigenvalues of each recurrent block W_h*" and ax.get_aspect() == 1.0
    assert constrained(drawn[0])


def _stats(sat: float) -> GateStats:
    return GateStats({"r": sat, "z": 0.5, "n": 0.25}, {"r": 0.5, "z": 0.75, "n": -0.5}, "z", 0.05)


@pytest.mark.parametrize("cells", [1, 2])
def test_gates_say_what_saturated_means_with_a_legend_only_for_several_cells(tmp_path, drawn, cells):
    plots.plot_gates([_stats(0.125 * (i + 1)) for i in range(cells)], tmp_path / "g.png", title="GRU gates")
    fig = drawn[0]
    saturated, mean = fig.axes
    assert fig._suptitle.get_text() == "GRU gates" and constrained(fig)
    assert saturated.get_title() == "saturated: σ < 0.05 or σ > 0.95; |tanh| > 0.95"
    assert saturated.get_ylabel() == "fraction of values saturated" and mean.get_ylabel() == "mean gate value"
    assert saturated.get_xlabel() == mean.get_xlabel() == "gate"
    assert [t.get_text() for t in saturated.texts][:3] == ["12.5%", "50.0%", "25.0%"]  # the bars' labels
    assert saturated.get_ylim() == (0, 1.1) and mean.get_ylim() == (-1.05, 1.05)
    for ax in (saturated, mean):
        assert gridded(ax.yaxis) and not gridded(ax.xaxis)
    assert (mean.get_legend() is not None) is (cells > 1)
    if cells > 1:
        assert [t.get_text() for t in mean.get_legend().get_texts()] == ["cell 0", "cell 1"]


def test_runs_show_each_mean_as_a_bar_with_its_value_and_range(tmp_path, drawn):
    plots.plot_runs({"left": [10.0, 12.0], "both": [15.0, 17.0, 19.0]}, tmp_path / "r.png", title="blanks",
                    ylabel="accuracy (%)")
    (ax,) = drawn[0].axes
    assert [p.get_height() for p in ax.patches] == [11.0, 17.0]
    assert [t.get_text() for t in ax.texts] == ["11", "17"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["left", "both"]
    assert ax.get_title() == "blanks" and ax.get_ylabel() == "accuracy (%)"
    assert gridded(ax.yaxis) and not gridded(ax.xaxis) and constrained(drawn[0])
    bars = [c for c in ax.collections if len(c.get_offsets()) == 3]
    assert bars and sorted(bars[0].get_offsets()[:, 1].tolist()) == [15.0, 17.0, 19.0]


def test_a_plot_makes_the_folders_it_needs_and_writes_the_format_its_name_asks(tmp_path):
    path = plots.plot_runs({"a": [1.0]}, tmp_path / "new" / "deeper" / "r.svg", title="t", ylabel="y")
    assert path == tmp_path / "new" / "deeper" / "r.svg" and b"<svg" in path.read_bytes()[:400]
    png = plots.plot_runs({"a": [1.0]}, tmp_path / "r", title="t", ylabel="y")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
