"""Adding and copy-memory tasks: layout, determinism by seed, and the memoryless baselines."""
import math

import pytest
import torch

from rnnkit.data.tasks import AddingTask, CopyTask, make_task


def test_adding_layout_two_markers_and_sum():
    task = AddingTask(length=30, batch_size=500, seed=1)
    batch = task.batch("train", 0)
    assert batch.x.shape == (30, 500, 2) and batch.y.shape == (30, 500, 1) and batch.weight.shape == (30, 500)
    marks = batch.x[..., 1]
    assert torch.equal(marks.sum(dim=0), torch.full((500,), 2.0))
    assert bool((marks[:15].sum(0) == 1).all()) and bool((marks[15:].sum(0) == 1).all())
    assert torch.allclose(batch.y[-1, :, 0], (batch.x[..., 0] * marks).sum(0))
    assert torch.equal(batch.weight[-1], torch.ones(500)) and batch.weight[:-1].sum() == 0


def test_adding_always_one_has_mse_near_one_sixth():
    task = AddingTask(length=50, batch_size=20000, seed=0)
    batch = task.batch("test", 0)
    mse = task.loss(torch.ones(50, 20000, 1), batch).item()
    assert abs(mse - 1 / 6) < 0.01
    assert task.baseline == pytest.approx(1 / 6)


def test_batches_are_a_function_of_seed_split_and_index():
    a, b = AddingTask(20, 4, seed=3), AddingTask(20, 4, seed=3)
    assert torch.equal(a.batch("train", 7).x, b.batch("train", 7).x)
    assert not torch.equal(a.batch("train", 7).x, a.batch("train", 8).x)
    assert not torch.equal(a.batch("train", 7).x, a.batch("val", 7).x)
    assert not torch.equal(a.batch("train", 7).x, AddingTask(20, 4, seed=4).batch("train", 7).x)


def test_copy_layout():
    task = CopyTask(length=6, batch_size=3, seed=0)
    batch = task.batch("train", 0)
    T = 6 + 20
    tokens = batch.x.argmax(-1)  # (T, B)
    assert batch.x.shape == (T, 3, 10) and batch.y.shape == (T, 3)
    assert bool((tokens[:10] < 8).all())
    assert bool((tokens[10:15] == task.blank).all()) and bool((tokens[15] == task.delimiter).all())
    assert bool((tokens[16:] == task.blank).all())
    assert bool((batch.y[:16] == task.blank).all()) and torch.equal(batch.y[16:], tokens[:10])


def test_copy_memoryless_baseline_cross_entropy():
    task = CopyTask(length=40, batch_size=4000, seed=0)
    batch = task.batch("val", 0)
    logits = torch.full((60, 4000, 9), -1e4)
    logits[:50, :, task.blank] = 0.0  # sure of blank until the recall
    logits[50:, :, :8] = 0.0  # then a uniform guess over the 8 symbols
    assert task.loss(logits, batch).item() == pytest.approx(10 * math.log(8) / 60, rel=1e-4)
    assert task.baseline == pytest.approx(10 * math.log(8) / 60)
    perfect = torch.nn.functional.one_hot(batch.y, 9).float() * 1e4
    assert task.metric(perfect, batch).item() == 1.0


@pytest.mark.parametrize("kwargs, error, text", [
    pytest.param(dict(name="sort"), ValueError, "unknown task 'sort'; valid values are 'adding', 'copy'", id="name"),
    pytest.param(dict(name="adding", length=1), ValueError, "expected length >= 2, got 1", id="length"),
    pytest.param(dict(name="copy", batch_size=2.5), TypeError, "expected batch_size to be an int", id="batch"),
])
def test_bad_task_settings(kwargs, error, text):
    with pytest.raises(error, match=text):
        make_task(**kwargs)


def test_bad_split():
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        AddingTask(10, 2).batch("dev", 0)


@pytest.mark.parametrize("name", ["adding", "copy", "recall", "lookahead", "horizon"])
def test_the_splits_draw_different_batches_at_the_same_index(name):
    from rnnkit.data.tasks import HorizonTask, LookaheadTask, RecallTask
    task = {"adding": AddingTask(20, 8), "copy": CopyTask(10, 8), "recall": RecallTask(30, 8, gap=5),
            "lookahead": LookaheadTask(20, 8), "horizon": HorizonTask(6, 8)}[name]
    for index in (0, 3):
        xs = {split: task.batch(split, index).x for split in ("train", "val", "test")}
        assert not torch.equal(xs["train"], xs["val"]) and not torch.equal(xs["train"], xs["test"])
        assert not torch.equal(xs["val"], xs["test"])
        assert torch.equal(xs["val"], task.batch("val", index).x)  # and each is a function of (split, index)


def test_the_recall_marker_can_lie_anywhere_from_the_first_step_to_gap_before_the_end():
    from rnnkit.data.tasks import RecallTask
    task = RecallTask(12, 64, gap=4)
    where = torch.cat([task.batch("train", i).x[:, :, 1].argmax(0) for i in range(10)])  # (640,) marked steps
    assert set(where.tolist()) == set(range(12 - 4))


def test_the_horizon_target_is_the_symbol_marked_exactly_k_steps_before_the_end():
    from rnnkit.data.tasks import HorizonTask
    task = HorizonTask(length=7, batch_size=300, seed=2)
    batch = task.batch("train", 0)
    T = 10 + 1 + 7
    assert batch.x.shape == (T, 300, 9) and batch.y.shape == (T, 300) and batch.weight.shape == (T, 300)
    marked = batch.x[:, :, -1]
    assert torch.equal(marked.argmax(0), torch.full((300,), T - 1 - 7)) and marked.sum() == 300  # one marker, k back
    symbols = batch.x[:, :, :8].argmax(-1)  # (T, B)
    assert torch.equal(batch.x[:, :, :8].sum(-1), torch.ones(T, 300))  # every step shows one symbol
    assert torch.equal(batch.y[-1], symbols[T - 1 - 7]) and torch.equal(batch.weight[-1], torch.ones(300))
    assert batch.weight[:-1].sum() == 0
    assert len(set(batch.y[-1].tolist())) == 8  # every symbol is asked for
    assert not torch.equal(symbols[-1], batch.y[-1])  # the last input is a distractor, not the answer


def test_horizon_scores_recall_of_the_marked_symbol_against_the_uniform_baseline():
    from rnnkit.data.tasks import HorizonTask
    task = HorizonTask(length=5, batch_size=4000, seed=0)
    batch = task.batch("val", 0)
    T = batch.x.shape[0]
    assert task.loss(torch.zeros(T, 4000, 8), batch).item() == pytest.approx(math.log(8))
    assert task.baseline == pytest.approx(math.log(8))
    perfect = torch.nn.functional.one_hot(batch.y, 8).float() * 30
    assert task.metric(perfect, batch).item() == 1.0 and task.loss(perfect, batch).item() < 1e-6
    last_input = torch.nn.functional.one_hot(batch.x[:, :, :8].argmax(-1), 8).float() * 30  # echo the distractor
    assert abs(task.metric(last_input, batch).item() - 1 / 8) < 0.02


def test_horizon_refuses_a_negative_lead():
    from rnnkit.data.tasks import HorizonTask
    with pytest.raises(ValueError, match="HorizonTask: expected lead >= 0, got -1"):
        HorizonTask(5, 2, lead=-1).batch("train", 0)
