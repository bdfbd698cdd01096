"""Fixtures the job and experiment tests share."""
from pathlib import Path

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (the experiments' documented setting), then restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def axis_labels(monkeypatch):
    """File name -> (x label, y label) of every figure the diagnostics' plots write during the test."""
    from rnnkit.diagnostics import plots

    seen, save = {}, plots._save

    def recording(fig, path):
        ax = fig.axes[0]
        seen[Path(path).name] = (ax.get_xlabel(), ax.get_ylabel())
        return save(fig, path)
    monkeypatch.setattr(plots, "_save", recording)
    return seen


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 30)
    return str(path)
