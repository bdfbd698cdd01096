"""Pieces of the experiments: the look-ahead and recall tasks, and the linear cell of the power argument."""
import pytest
import torch

from rnnkit.data.tasks import LookaheadTask, RecallTask
from rnnkit.diagnostics.spectral import spectrum
from rnnkit.jobs.experiments.common import make
from rnnkit.jobs.experiments.theory import LinearCell


def test_lookahead_targets_are_future_inputs():
    task = LookaheadTask(length=10, batch_size=3, shift=3)
    b = task.batch("train", 0)
    torch.testing.assert_close(b.y[:7], b.x[3:])
    assert (b.y[7:] == 0).all() and task.baseline == pytest.approx(7 / 10 / 12)
    assert torch.equal(b.x, task.batch("train", 0).x) and not torch.equal(b.x, task.batch("val", 0).x)


def test_linear_cell_has_the_requested_radius_and_models_run():
    torch.manual_seed(0)
    assert spectrum(LinearCell(2, 6, radius=1.1).weight_hh).radius == pytest.approx(1.1)
    y, _ = make("lstm", 1, 4, 1, bidirectional=True)(torch.randn(5, 2, 1))
    assert y.shape == (5, 2, 1)


def test_recall_marker_lies_before_the_gap():
    task = RecallTask(length=12, batch_size=50, gap=5)
    b = task.batch("train", 1)
    marks = b.x[:, :, 1]  # (T, B)
    assert (marks.sum(0) == 1).all() and (marks[12 - 5:] == 0).all()
    torch.testing.assert_close(b.y[-1, :, 0], (b.x[:, :, 0] * marks).sum(0))
    assert (b.weight[:-1] == 0).all() and (b.weight[-1] == 1).all()


class _Blowup(torch.nn.Module):
    """A model whose every output is infinite: each step's loss is non-finite."""

    def __init__(self):
        super().__init__()
        self.inner = make("rnn", 2, 4, 1)

    def forward(self, x, *args):
        y, state = self.inner(x, *args)
        return y * float("inf"), state


def test_an_experiment_s_run_stops_after_three_non_finite_steps_in_a_row(capsys):
    from rnnkit.data.tasks import AddingTask
    from rnnkit.jobs.experiments.common import train
    torch.manual_seed(0)
    fit = train(_Blowup(), AddingTask(8, 4), steps=20, lr=0.5, eval_batches=1)
    err = capsys.readouterr().err
    assert fit["stopped"] == "nonfinite" and fit["steps"] == 0 and fit["losses"] == []
    assert err.count("step skipped") == 3 and "stopped: 3 steps in a row" in err
