"""Fixtures the diagnostics tests share."""
import pytest


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions close, drawn, instead of closed."""
    from matplotlib import pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    yield figures
    monkeypatch.undo()
    for fig in figures:
        plt.close(fig)
