"""``rnnkit esn``'s plot: truth and prediction in a window where they can be told apart, and their difference."""
import numpy as np
import pytest
import torch

from rnnkit.jobs import esn

pytest.importorskip("matplotlib")


def closed_figure(monkeypatch, call):
    from matplotlib import pyplot as plt

    closed = []
    monkeypatch.setattr(plt, "close", closed.append)
    call()
    monkeypatch.undo()
    (fig,) = closed
    plt.close(fig)
    return fig


def test_plot_zooms_on_the_test_and_draws_the_error_of_each_run(tmp_path, monkeypatch):
    t = torch.arange(500, dtype=torch.float64)
    truth = torch.sin(t / 10)
    offset = 1e-3 * torch.cos(t / 3)
    free_truth, free_run = truth[:50], truth[:50] + 1e-4 * torch.exp(t[:50] / 10)
    fitted = esn.Fitted(truth, truth + offset, (free_truth, free_run))
    fig = closed_figure(monkeypatch, lambda: esn.plot(tmp_path / "e.png", fitted, "mackey-glass, 9 units", zoom=120))
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    values, error, free_values, free_error = fig.axes
    assert [len(line.get_ydata()) for line in values.get_lines()] == [120, 120]  # the zoomed window
    for ax, run in ((values, truth + offset), (free_values, free_run)):
        assert [line.get_label() for line in ax.get_lines()] == ["truth", "prediction"]
        np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), run[:len(ax.get_lines()[1].get_ydata())].numpy())
    assert "the first 120 of 500 steps" in values.get_title()
    np.testing.assert_allclose(error.get_lines()[0].get_ydata(), offset.numpy())  # prediction - truth, signed
    assert error.get_yscale() == "linear" and "NRMSE" in error.get_lines()[0].get_label()
    for top, bottom in ((values, error), (free_values, free_error)):  # the error is drawn as the prediction is
        assert bottom.get_lines()[0].get_color() == top.get_lines()[1].get_color() != top.get_lines()[0].get_color()
    assert [len(line.get_ydata()) for line in free_values.get_lines()] == [50, 50]
    np.testing.assert_allclose(free_error.get_lines()[0].get_ydata(), (free_run - free_truth).abs().numpy())
    assert free_error.get_yscale() == "log"
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1
        assert ax.get_xlabel() and ax.get_ylabel()
    assert "too small to see" in " ".join(text.get_text() for text in values.texts)


def test_plot_without_a_free_run_has_two_panels(tmp_path, monkeypatch):
    truth = torch.linspace(0, 1, 30, dtype=torch.float64)
    fitted = esn.Fitted(truth, truth + 0.1, None)
    fig = closed_figure(monkeypatch, lambda: esn.plot(tmp_path / "n.png", fitted, "narma10, 9 units"))
    values, error = fig.axes
    assert [len(line.get_ydata()) for line in values.get_lines()] == [30, 30]
    assert len(values.texts) == 0  # 0.1 apart on a range of 1: visible, no note
    np.testing.assert_allclose(error.get_lines()[0].get_ydata(), 0.1)
