"""Every job round-trips config -> checkpoint -> restore; configs read flat values and refuse bad ones."""
import sys
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from rnnkit import jobs
from rnnkit.jobs import classify, fill, forecast, lm, synthetic
from rnnkit.train import CheckpointError, TrainConfig, Trainer, load_checkpoint

TRAIN = TrainConfig(steps=2, eval_every=0, eval_batches=1, checkpoint_every=0, progress=False, tensorboard=False)


def tiny(name: str, text: str):
    """A small config of the job ``name``."""
    if name == "lm":
        return lm.LMConfig(text=text, length=16, batch_size=4, hidden_size=8, embed_size=6, sample_length=0)
    if name == "fill":
        return fill.FillConfig(text=text, length=8, batch_size=4, hidden_size=6, embed_size=5)
    if name == "forecast":
        return forecast.ForecastConfig(length=8, batch_size=4, hidden_size=5, transform="sqrt", cell="gru")
    if name == "classify":
        return classify.ClassifyConfig(batch_size=8, hidden_size=5, bidirectional=True, pooling="mean")
    return synthetic.SyntheticConfig(length=24, batch_size=4, hidden_size=5, gap=10, shift=2, cell="rnn")


def first_output(model, task):
    """The model's output on the first validation batch (the same function of the weights for every job)."""
    batch = task.batch("val", 0)
    with torch.no_grad():
        return model(batch.x)[0]


@pytest.mark.parametrize("name", list(jobs.JOBS))
def test_config_checkpoint_restore_round_trip(tmp_path, text, name):
    job = jobs.get(name)
    config = tiny(name, text)
    torch.manual_seed(0)
    built = job.build(config)
    trainer = Trainer(built.model, built.task, TRAIN, tmp_path, run_config=built.run_fields)
    trainer.fit()
    path = tmp_path / "checkpoint.pt"
    assert load_checkpoint(path)["config"]["job"] == asdict(config)

    found, restored = jobs.restore(path)
    assert found is job and restored.config == config and restored.step == 2
    trained = built.model.state_dict()
    assert {k: v.tolist() for k, v in restored.model.state_dict().items()} == {k: v.tolist() for k, v in trained.items()}
    assert not restored.model.training
    built.model.eval()
    assert torch.equal(first_output(restored.model, built.task), first_output(built.model, built.task))
    if name in ("lm", "fill"):
        assert restored.transforms["vocab"].tokens == built.task.vocab.tokens
    elif name == "forecast":
        assert restored.transforms == {"mean": built.run_fields["task_mean"], "std": built.run_fields["task_std"]}
    elif name == "classify":
        assert restored.transforms["classes"] == tuple(built.run_fields["task_classes"])
        np.testing.assert_array_equal(restored.transforms["mean"], built.run_fields["task_mean"])
    else:
        assert restored.transforms == {}


@pytest.mark.parametrize("name", list(jobs.JOBS))
def test_flat_values_round_trip(text, name):
    job = jobs.get(name)
    config, train = tiny(name, text), replace(TRAIN, lr=0.01, tbptt=4)
    assert jobs.from_mapping(job, jobs.to_mapping(config, train), "test") == (config, train)


def test_job_defaults_apply_unless_given():
    config, train = jobs.from_mapping(forecast, {"hidden_size": 7}, "test")
    assert config.hidden_size == 7 and train.steps == forecast.TRAIN_DEFAULTS["steps"]
    assert jobs.from_mapping(forecast, {"steps": 9}, "test")[1].steps == 9


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(ValueError, match="run.toml: unknown key hiden_size for --task adding; valid keys are "
                                         "task, length, .*hidden_size"):
        jobs.from_mapping(jobs.get("adding"), {"hiden_size": 3}, "run.toml")


@pytest.mark.parametrize("config, kwargs, error, text", [
    pytest.param(synthetic.SyntheticConfig, {"cell": "transformer"}, ValueError,
                 "SyntheticConfig: unknown cell 'transformer'; valid values are rnn, relu, lstm, gru, mingru, minlstm",
                 id="cell"),
    pytest.param(lm.LMConfig, {"tokens": "bytes"}, ValueError,
                 "LMConfig: unknown tokens 'bytes'; valid values are char, word", id="tokens"),
    pytest.param(forecast.ForecastConfig, {"horizon": 2.5}, TypeError,
                 "ForecastConfig: expected horizon to be int, got float 2.5", id="type"),
    pytest.param(classify.ClassifyConfig, {"bidirectional": 1}, TypeError,
                 "ClassifyConfig: expected bidirectional to be bool, got int 1", id="bool"),
])
def test_configs_name_the_field_expected_and_actual(config, kwargs, error, text):
    with pytest.raises(error, match=text):
        config(**kwargs)


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown task 'sorting'; valid tasks are adding, copy, recall, lookahead, horizon, lm"):
        jobs.get("sorting")


def test_checkpoints_without_a_stored_config_still_restore(tmp_path):
    """Synthetic-task checkpoints written before whole configs were stored hold only the run fields."""
    job = jobs.get("copy")
    config = synthetic.SyntheticConfig(length=6, batch_size=3, hidden_size=4, cell="gru")
    built = job.build(config)
    Trainer(built.model, built.task, TRAIN, tmp_path, run_config=built.run_fields).fit()
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    del ckpt["config"]["job"]
    restored = job.restore(ckpt, "old.pt")
    assert restored.config == config
    del ckpt["config"]["model_cell"]
    with pytest.raises(CheckpointError, match="checkpoint old.pt lacks a valid copy config: 'model_cell'"):
        job.restore(ckpt, "old.pt")


def test_restore_refuses_a_checkpoint_of_no_known_task(tmp_path):
    from rnnkit.train import atomic_save
    from rnnkit.train.checkpoint import FORMAT

    atomic_save({"format": FORMAT, "config": {"task": "chess"}, "model": {}}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="names no known task \\(got 'chess'"):
        jobs.restore(tmp_path / "c.pt")


@pytest.mark.parametrize("config, kwargs, text", [
    pytest.param(forecast.ForecastConfig, {"season": 0}, "ForecastConfig: expected season >= 1, got 0", id="season"),
    pytest.param(lm.LMConfig, {"max_vocab": 0}, "LMConfig: expected max_vocab >= 2, got 0", id="vocab"),
    pytest.param(synthetic.SyntheticConfig, {"hidden_size": 0}, "expected hidden_size >= 1, got 0", id="hidden"),
])
def test_sizes_below_their_minimum_are_refused(config, kwargs, text):
    with pytest.raises(ValueError, match=text):
        config(**kwargs)


@pytest.mark.parametrize("field", ["max_minutes", "target_loss", "lr", "clip_norm"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_a_non_finite_number_never_silently_turns_a_rule_off(field, bad):
    with pytest.raises(ValueError, match=f"TrainConfig: expected {field} to be a finite number, got {bad}"):
        TrainConfig(**{field: bad})


def test_the_forecast_task_gets_every_window_and_split_setting_of_its_config():
    config = forecast.ForecastConfig(length=6, horizon=3, batch_size=5, data_seed=7, val_fraction=0.2,
                                     test_fraction=0.1)
    task = forecast.build(config).task
    assert (task.length, task.horizon, task.batch_size, task.seed) == (6, 3, 5, 7)
    assert (task.val_fraction, task.test_fraction) == (0.2, 0.1)


def test_a_wrong_column_of_the_bundled_series_names_it():
    with pytest.raises(ValueError) as exc:
        forecast.load_series(forecast.ForecastConfig(column="NOPE"))
    assert str(exc.value) == "CSV file 'sunspots (bundled)' has no column 'NOPE' (columns: 'YEAR', 'SUNACTIVITY')"


def test_language_scores_are_reported_in_bits_per_character_and_perplexity():
    import math
    scores = {"model": 1.5 * math.log(2), "unigram": 4 * math.log(2), "tokens": 10}
    assert lm.describe(scores, "char", "val") == "val: 1.500 bits/char (unigram 4.000) over 10 characters"
    scores = {"model": math.log(20), "unigram": math.log(100), "tokens": 7}
    assert lm.describe(scores, "word", "test") == "test: perplexity 20.0 (unigram 100.0, 5.00x better) over 7 tokens"


def test_a_synthetic_checkpoint_from_before_whole_configs_reads_as_the_default_init():
    old = {"config": {"task_length": 24, "batch_size": 4, "data_seed": 0, "model_cell": "gru",
                      "model_hidden_size": 5, "model_num_layers": 1}}
    config = synthetic.JOBS[0].config_of(old, "old.pt")
    assert (config.init, config.engine, config.cell, config.length) == ("default", "auto", "gru", 24)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from 3.11")
def test_toml_configs_need_only_the_standard_library_from_python_3_11(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tomli", None)  # not installed (setuptools may vendor one)
    path = tmp_path / "run.toml"
    path.write_text('hidden_size = 7\ncell = "gru"\n')
    assert jobs.read_toml(path) == {"hidden_size": 7, "cell": "gru"}


def test_the_vocabulary_comes_from_the_training_part_only(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(" ".join(["seen"] * 860 + ["heldout"] * 140) + "\n")  # held out: the last 15 % (150 tokens)
    config = lm.LMConfig(text=str(path), tokens="word", length=8, batch_size=2, hidden_size=4, embed_size=4,
                         val_fraction=0.1, test_fraction=0.05, sample_length=0)
    vocab = lm.build(config).task.vocab
    assert "seen" in vocab.index and "heldout" not in vocab.index


def test_tied_weights_reach_the_language_model(text):
    config = replace(tiny("lm", text), embed_size=8, tie_weights=True)
    model = lm.build(config).model
    assert model.head.weight is model.embed.weight


def test_forecast_and_recall_losses_are_mean_squared_errors():
    from rnnkit.data.series import ForecastTask
    from rnnkit.data.tasks import RecallTask
    task = ForecastTask(torch.linspace(-1, 1, 60), length=6, horizon=3, batch_size=2)
    batch = task.batch("train", 0)
    output = batch.y + 0.5  # every forecast 0.5 off
    assert float(task.loss(output, batch)) == pytest.approx(0.25)
    recall = RecallTask(10, 4, gap=3)
    batch = recall.batch("train", 0)
    assert float(recall.loss(batch.y - 0.1, batch)) == pytest.approx(0.01)
    assert float(recall.loss(batch.y, batch)) == 0.0


@pytest.mark.parametrize("name", ["adding", "copy", "recall", "lookahead"])
def test_make_task_passes_the_seed(name):
    from rnnkit.data.tasks import make_task
    assert make_task(name, 30, 4, seed=5).seed == 5
    assert not torch.equal(make_task(name, 30, 4, seed=5).batch("train", 0).x,
                           make_task(name, 30, 4, seed=6).batch("train", 0).x)


def test_a_run_without_a_folder_reports_on_its_last_weights():
    trainer = Trainer(synthetic.SyntheticJob("adding").build(tiny("adding", "")).model,
                      synthetic.SyntheticJob("adding").make_task(tiny("adding", "")), TRAIN, None)
    result = trainer.fit()
    assert jobs.report_weights(trainer, result) == "report on the last weights (step 2; no validation kept a best.pt)"


def test_a_synthetic_checkpoint_s_stored_init_and_engine_are_read_back():
    old = {"config": {"task_length": 24, "batch_size": 4, "data_seed": 0, "model_cell": "rnn", "model_hidden_size": 5,
                      "model_num_layers": 1, "init": "orthogonal", "engine": "reference"}}
    config = synthetic.JOBS[0].config_of(old, "old.pt")
    assert (config.init, config.engine) == ("orthogonal", "reference")
