"""Each job's settings reach what they configure: the task's windows, the model, and the checkpoint's run fields."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnkit import jobs
from rnnkit.jobs import forecast, synthetic
from rnnkit.train import CheckpointError
from rnnkit.train.checkpoint import check_run
from tests.jobs.test_jobs import tiny


@pytest.mark.parametrize("transform", ["none", "sqrt"])
def test_forecast_windows_are_the_series_less_its_training_mean_over_its_training_std(transform):
    config = forecast.ForecastConfig(length=8, horizon=2, batch_size=4, transform=transform, val_fraction=0.2,
                                     test_fraction=0.1)
    built = forecast.build(config)
    values = built.extra["series"].values
    n_train = values.size - round(values.size * 0.2) - round(values.size * 0.1)
    seen = forecast.forward_transform(config, values[:n_train])
    mean, std = seen.mean(), seen.std()
    assert (built.run_fields["task_mean"], built.run_fields["task_std"]) == pytest.approx((mean, std), rel=1e-12)
    expected = (forecast.forward_transform(config, values) - mean) / std
    np.testing.assert_allclose(built.task.values.numpy(), expected, rtol=1e-6, atol=1e-6)
    train = built.task.values[:n_train].double()
    assert abs(float(train.mean())) < 1e-5 and float(train.std(correction=0)) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["lm", "fill"])
def test_the_text_jobs_windows_take_every_setting_of_their_config(name, text):
    config = replace(tiny(name, text), length=5, batch_size=3, data_seed=11, val_fraction=0.2, test_fraction=0.15)
    task = jobs.JOBS[name].build(config).task
    task = getattr(task, "text", task)  # fill: the windows of its TextTask
    assert (task.length, task.batch_size, task.seed) == (5, 3, 11)
    assert (task.val_fraction, task.test_fraction) == (0.2, 0.15)
    other = jobs.JOBS[name].build(replace(config, data_seed=12)).task
    other = getattr(other, "text", other)
    assert not torch.equal(task.batch("train", 0).x, other.batch("train", 0).x)


def _recurrent_weights(model):
    return [p.detach().double() for n, p in model.named_parameters() if "weight_hh" in n]


@pytest.mark.parametrize("name", ["lm", "fill", "forecast", "classify", "adding"])
def test_the_init_setting_reaches_every_recurrent_weight(name, text):
    base = replace(tiny(name, text), cell="rnn")
    for init, orthogonal in (("orthogonal", True), ("default", False)):
        torch.manual_seed(0)
        weights = _recurrent_weights(jobs.JOBS[name].build(replace(base, init=init)).model)
        assert weights
        for w in weights:
            eye = torch.eye(w.shape[1], dtype=torch.float64)
            assert torch.allclose(w.T @ w, eye, atol=1e-5) is orthogonal, (name, init)


def test_an_unknown_init_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="SyntheticConfig: unknown init 'he'; valid values are default, orthogonal, "
                                         "identity, xavier, chrono"):
        synthetic.SyntheticConfig(init="he")


@pytest.mark.parametrize("name, field, value", [
    ("lm", "embed_size", 7), ("fill", "embed_size", 7), ("lm", "tie_weights", True), ("lm", "cell", "gru"),
    ("fill", "num_layers", 2), ("fill", "hidden_size", 9), ("forecast", "horizon", 3), ("forecast", "hidden_size", 9),
    ("classify", "cell", "gru"), ("adding", "hidden_size", 9),
])
def test_a_checkpoint_of_another_model_shape_is_refused(name, field, value, text):
    job = jobs.JOBS[name]
    base = tiny(name, text)
    if field == "tie_weights":
        base = replace(base, embed_size=base.hidden_size)
    saved = {"config": job.build(base).run_fields}
    check_run(saved, job.build(base).run_fields, "c.pt")  # the same settings: accepted
    with pytest.raises(CheckpointError, match=f"checkpoint c.pt was written for model_{field}="):
        check_run(saved, job.build(replace(base, **{field: value})).run_fields, "c.pt")


def test_a_checkpoint_without_run_fields_is_refused_as_one_of_no_task():
    with pytest.raises(CheckpointError, match="checkpoint c.pt was written for task=None, this run has task='copy'"):
        check_run({}, {"task": "copy"}, "c.pt")


def test_the_narma10_series_of_rnnkit_esn_is_drawn_from_its_seed_and_standardised():
    from rnnkit.data import narma10
    from rnnkit.jobs import esn
    series = esn.load(esn.ESNJobConfig(task="narma10", train=1500, test=500, seed=4))
    u, y = narma10(2000, seed=4)
    torch.testing.assert_close(series.X[:, 0], (u - 0.25) / 0.144)  # U(0, 0.5): mean 0.25, std 0.144
    assert abs(float(series.X.mean())) < 0.05 and abs(float(series.X.std()) - 1) < 0.05
    assert abs(float(series.Y[:1500].mean())) < 1e-9 and not torch.equal(
        series.X, esn.load(esn.ESNJobConfig(task="narma10", train=1500, test=500, seed=5)).X)


def test_validation_batches_walk_the_split_in_order_and_training_batches_draw_at_random():
    from rnnkit.data.sequences import ClassifyTask, Sequences
    items = tuple(np.full((2, 1), i, dtype=np.float32) for i in range(40))
    task = ClassifyTask(Sequences(items, np.arange(40) % 2, ("a", "b")), batch_size=4)
    firsts = lambda batch: batch.x[0, :, 0].tolist()  # each sequence's value names it
    val = task.parts["val"].tolist()
    assert firsts(task.batch("val", 0)) == val[:4] and firsts(task.batch("val", 1)) == val[4:6] + val[:2]
    train = {firsts(task.batch("train", i))[0] for i in range(30)}
    assert train <= set(task.parts["train"].tolist()) and len(train) > 5
