"""Bad input gets one line that names who refused it, what was expected and what came: the whole message."""
import struct

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.data import lorenz, mackey_glass, narma10
from rnnkit.data.sequences import ClassifyTask, Sequences
from rnnkit.data.files import decode_utf8
from rnnkit.data.tasks import AddingTask, CopyTask, make_task
from rnnkit.models.fill import FillModel
from rnnkit.data.series import read_series
from rnnkit.data.text import Vocabulary
from rnnkit.diagnostics.flow import gradient_flow
from rnnkit.diagnostics.gates import gate_stats
from rnnkit.diagnostics.spectral import power_iteration
from rnnkit.data.series import ForecastTask
from rnnkit.data.tasks import LookaheadTask
from rnnkit.models import Forecaster, LanguageModel, SequenceClassifier, SequenceModel
from rnnkit.reservoir import RLS, Reservoir, ReservoirConfig, Ridge
from rnnkit.train import weights_file
from rnnkit.reservoir.diagnostics import echo_state_check, memory_capacity, spectral_radius
from rnnkit.reservoir.search import search
from rnnkit.train import CheckpointError
from rnnkit.train.checkpoint import FORMAT, atomic_save, validate


class _Twice(torch.nn.Module):
    """Runs its recurrent layer twice: one gradient flow per run would be ambiguous."""

    def __init__(self):
        super().__init__()
        self.rnn = rnnkit.RNN(1, 3)

    def forward(self, x):
        return self.rnn(self.rnn(x)[0][..., :1])


def _sequences():
    items = tuple(np.zeros((3, 1), dtype=np.float32) for _ in range(20))
    return Sequences(items, np.arange(20) % 2, ("a", "b"))


def _reservoir():
    return Reservoir(1, ReservoirConfig(units=20, connectivity=0.5), dtype=torch.float64)


CASES = [  # (what, call, exception, the whole message)
    ("mackey_glass dt", lambda: mackey_glass(10, dt=0), ValueError, "mackey_glass: expected dt > 0, got 0"),
    ("Vocabulary level", lambda: Vocabulary(("a", "b"), level="x"), ValueError,
     "Vocabulary: unknown level 'x'; valid values are 'char', 'word'"),
    ("power_iteration", lambda: power_iteration(torch.zeros(2, 3)), ValueError,
     "power_iteration: expected a square matrix (H, H), got shape (2, 3)"),
    ("gate_stats eps", lambda: gate_stats(rnnkit.LSTMCell(1, 2), torch.zeros(3, 1, 1), eps=0.0), ValueError,
     "gate_stats: expected eps in (0, 0.5), got 0.0"),
    ("gradient_flow twice", lambda: gradient_flow(_Twice(), torch.zeros(4, 2, 1), lambda out, b: out[0].sum()),
     ValueError, "gradient_flow: expected the model to run its recurrent layer once (1 cell calls), got 2 cell calls"),
    ("SequenceClassifier classes", lambda: SequenceClassifier(1, 4, 1), ValueError,
     "SequenceClassifier: expected num_classes >= 2, got 1"),
    ("LanguageModel vocabulary", lambda: LanguageModel(1, 4, 4), ValueError,
     "LanguageModel: expected vocab_size >= 2, got 1"),
    ("ReservoirConfig connectivity", lambda: ReservoirConfig(connectivity="a"), TypeError,
     "ReservoirConfig: expected connectivity to be a number, got str 'a'"),
    ("echo_state_check reservoir", lambda: echo_state_check("nope"), TypeError,
     "echo_state_check: expected a rnnkit.reservoir.Reservoir, got str"),
    ("echo_state_check inputs", lambda: echo_state_check(_reservoir(), inputs=[1.0, 2.0]), TypeError,
     "echo_state_check: expected inputs to be a torch.Tensor, got list"),
    ("ForecastTask index", lambda: ForecastTask(torch.zeros(50)).batch("train", -1), ValueError,
     "ForecastTask: expected index >= 0, got -1"),
    ("LookaheadTask index", lambda: LookaheadTask(20, 4).batch("train", -1), ValueError,
     "LookaheadTask: expected index >= 0, got -1"),
    ("Forecaster horizon", lambda: Forecaster(1, 4, horizon=0), ValueError, "Forecaster: expected horizon >= 1, got 0"),
    ("SequenceModel.around size", lambda: SequenceModel.around(rnnkit.LSTM(1, 4), 0), ValueError,
     "SequenceModel.around: expected output_size >= 1, got 0"),
    ("memory_capacity delay", lambda: memory_capacity(_reservoir(), max_delay=0), ValueError,
     "memory_capacity: expected max_delay >= 1, got 0"),
    ("Ridge fit_bias", lambda: Ridge(1.0, fit_bias=1), TypeError, "Ridge: expected fit_bias to be a bool, got int 1"),
    ("weights file too short", lambda: weights_file.read("w.safetensors", b"abc", "x"), ValueError,
     "w.safetensors is not a safetensors file: 3 bytes, shorter than its 8-byte header length"),
    ("lorenz n", lambda: lorenz(0), ValueError, "lorenz: expected n >= 1, got 0"),
    ("mackey_glass sample_every", lambda: mackey_glass(10, sample_every=0), ValueError,
     "mackey_glass: expected sample_every > 0, got 0"),
    ("mackey_glass sample_every type", lambda: mackey_glass(10, sample_every="a"), TypeError,
     "mackey_glass: expected sample_every to be a positive number, got str 'a'"),
    ("narma10 batch", lambda: narma10(10, batch=0), ValueError, "narma10: expected batch >= 1, got 0"),
    ("ClassifyTask batch_size", lambda: ClassifyTask(_sequences(), batch_size=0), ValueError,
     "ClassifyTask: expected batch_size >= 1, got 0"),
    ("ClassifyTask index", lambda: ClassifyTask(_sequences(), batch_size=2).batch("train", -1), ValueError,
     "ClassifyTask: expected index >= 0, got -1"),
    ("CopyTask index", lambda: CopyTask().batch("train", -1), ValueError, "CopyTask: expected index >= 0, got -1"),
    ("SequenceClassifier cell", lambda: SequenceClassifier(4, 8, 3, cell="nope"), ValueError,
     "SequenceClassifier: unknown cell 'nope'; valid values are 'rnn', 'tanh', 'relu', 'lstm', 'gru', 'mingru', "
     "'minlstm'"),
    ("FillModel dropout", lambda: FillModel(10, 4, 4, dropout=2.0), ValueError,
     "FillModel: expected dropout in [0, 1], got 2.0"),
    ("SequenceModel output_size", lambda: SequenceModel("lstm", 1, 4, 0), ValueError,
     "SequenceModel: expected output_size >= 1, got 0"),
    ("memory_capacity washout", lambda: memory_capacity(_reservoir(), washout=-1), ValueError,
     "memory_capacity: expected washout >= 0, got -1"),
    ("spectral_radius matrix", lambda: spectral_radius("x"), TypeError,
     "spectral_radius: expected matrix to be a torch.Tensor, got str"),
    ("RLS fit_bias", lambda: RLS(fit_bias="yes"), TypeError, "RLS: expected fit_bias to be a bool, got str 'yes'"),
    ("search empty axis", lambda: search(np.zeros((10, 1)), np.zeros((10, 1)), spectral_radius=[], leak_rate=[1.0],
                                         ridge=[1e-6]), ValueError,
     "search: expected at least one value for spectral_radius, got none"),
    ("power_iteration steps", lambda: power_iteration(torch.eye(3), steps=3), ValueError,
     "power_iteration: expected steps >= 4, got 3"),
    ("search lengths", lambda: search(np.zeros((100, 1)), np.zeros((90, 1)), spectral_radius=[0.9], leak_rate=[1.0],
                                      ridge=[1e-6]), ValueError,
     "search: expected X (T, I) and Y (T, O) of one series with the same T, got shapes (100, 1) and (90, 1)"),
    ("lorenz dt", lambda: lorenz(10, dt=0), ValueError, "lorenz: expected dt > 0, got 0"),
    ("AddingTask split", lambda: AddingTask(8, 2).batch("tests", 0), ValueError,
     "AddingTask: unknown split 'tests'; valid values are 'train', 'val', 'test'"),
    ("ClassifyTask no test part", lambda: ClassifyTask(_sequences(), batch_size=2, test_fraction=0.01), ValueError,
     "ClassifyTask: 20 sequences are too few for val_fraction 0.15 and test_fraction 0.01: every part needs at "
     "least one"),
    ("text not UTF-8, no hint", lambda: decode_utf8(b"ab\xff", "t.txt", "text file"), ValueError,
     "text file 't.txt' is not UTF-8 (invalid byte 0xff at offset 2)"),
    ("Ridge rows", lambda: Ridge(1.0).accumulate(torch.zeros(3, 2), torch.zeros(4, 1)), ValueError,
     "Ridge: expected as many target rows as feature rows, got 3 feature rows and 4 target rows"),
    ("weights file header length past 2**63",
     lambda: weights_file.read("w.safetensors", struct.pack("<Q", 2 ** 63 + 5) + b"{}", "x"), ValueError,
     "w.safetensors is not a safetensors file (or is cut short): its header claims 9223372036854775813 bytes, the "
     "file has 2 after the length"),
    ("checkpoint lacking two fields", lambda: validate({"format": FORMAT}, "c.pt"), CheckpointError,
     "checkpoint c.pt lacks the fields 'config', 'model' (written by another program, or damaged)"),
    ("checkpoint lacking one field", lambda: validate({"format": FORMAT, "model": {}}, "c.pt"), CheckpointError,
     "checkpoint c.pt lacks the field 'config' (written by another program, or damaged)"),
    ("lorenz discard", lambda: lorenz(10, discard=-1), ValueError, "lorenz: expected discard >= 0, got -1"),
    ("ForecastTask length", lambda: ForecastTask(torch.zeros(50), length=0), ValueError,
     "ForecastTask: expected length >= 1, got 0"),
    ("make_task name", lambda: make_task("sorting", 10, 2), ValueError,
     "make_task: unknown task 'sorting'; valid values are 'adding', 'copy', 'recall', 'lookahead', 'horizon'"),
    ("Ridge features type", lambda: Ridge(1.0).accumulate([1.0], torch.zeros(1, 1)), TypeError,
     "Ridge: expected features to be a torch.Tensor, got list"),
]


@pytest.mark.parametrize("call, error, message", [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_the_message_names_the_owner_the_expectation_and_the_value(call, error, message):
    with pytest.raises(error) as exc:
        call()
    assert str(exc.value) == message


@pytest.mark.parametrize("content, column, problem", [
    pytest.param(b"year,value\n1," + b"9" * 200_000 + b"\n", "", "line 2: not valid CSV (field larger than field "
                 "limit (131072))", id="not-csv"),
    pytest.param(b"year,value\n1,\xff\n", "", "is not UTF-8 (invalid byte 0xff at offset 13)", id="not-utf8"),
    pytest.param(b"1,2\n3,4\n", "value", "has no column 'value' (it has no header)", id="no-header"),
])
def test_a_bad_csv_is_named_as_a_csv_file_with_its_problem(tmp_path, content, column, problem):
    path = tmp_path / "s.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as exc:
        read_series(path, column=column)
    assert str(exc.value) == f"CSV file {str(path)!r} {problem}"


def test_a_trainer_names_the_config_type_it_needs():
    from rnnkit.train import Trainer
    with pytest.raises(TypeError) as exc:
        Trainer(torch.nn.Linear(1, 1), None, "x")
    assert str(exc.value) == "Trainer: expected config to be a TrainConfig, got str"


def test_a_checkpoint_of_no_known_task_is_named_by_its_path(tmp_path, capsys):
    from rnnkit import jobs
    from rnnkit.cli.main import main
    from rnnkit.train.checkpoint import FORMAT, atomic_save
    path = tmp_path / "unknown.pt"
    atomic_save({"format": FORMAT, "step": 1, "config": {"task": "nope"}, "model": {}}, path)
    line = (f"checkpoint {path} names no known task (got 'nope'; valid tasks are adding, copy, recall, lookahead, "
            "horizon, lm, fill, forecast, classify)")
    with pytest.raises(CheckpointError) as exc:
        jobs.restore(path)
    assert str(exc.value) == line
    assert main(["export", str(path), "--format", "safetensors"]) == 2
    assert capsys.readouterr().err == f"rnnkit export: error: {line}\n"


def test_resuming_a_checkpoint_whose_config_lacks_the_job_settings_says_so(tmp_path, capsys):
    from rnnkit.cli.main import main
    from rnnkit.jobs.base import resumed_values
    from rnnkit.train.checkpoint import atomic_save, load_checkpoint
    run = tmp_path / "run"
    assert main(["train", "--length", "8", "--hidden-size", "4", "--batch-size", "4", "--steps", "1",
                 "--eval-every", "0", "--no-progress", "--no-tensorboard", "--out", str(run)]) == 0
    ckpt = load_checkpoint(run / "checkpoint.pt")
    del ckpt["config"]["job"]
    path = tmp_path / "stripped.pt"
    atomic_save(ckpt, path)
    with pytest.raises(CheckpointError) as exc:
        resumed_values(path, {})
    assert str(exc.value) == (f"checkpoint {path}: its config lacks the run's 'job' settings "
                              "(written by another program, or damaged)")



@pytest.mark.parametrize("name", ["", 3, None])
def test_a_hook_needs_a_non_empty_str_name(name):
    from rnnkit.data.tasks import AddingTask
    from rnnkit.train import TrainConfig, Trainer

    class Hook:
        def on_step_end(self, trainer):
            pass
    hook = Hook()
    hook.name = name
    trainer = Trainer(SequenceModel("rnn", 2, 4, 1), AddingTask(8, 2), TrainConfig(steps=1, progress=False,
                                                                                   tensorboard=False), None)
    with pytest.raises(TypeError) as exc:
        trainer.add_hook(hook)
    assert str(exc.value) == f"Trainer.add_hook: expected a hook with a non-empty str name, got Hook with name {name!r}"


def test_an_unreadable_checkpoint_names_the_reason_it_could_not_be_read(tmp_path):
    from rnnkit.train import load_checkpoint
    path = tmp_path / "c.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert str(exc.value).startswith(f"checkpoint {path} is unreadable (truncated or not an rnnkit checkpoint): "
                                     "PytorchStreamReader failed reading zip archive: failed finding central directory")


def test_a_hook_without_events_is_told_the_events_there_are():
    from rnnkit.train import TrainConfig, Trainer

    class Hook:
        name = "h"
    trainer = Trainer(SequenceModel("rnn", 2, 4, 1), AddingTask(8, 2), TrainConfig(steps=1, progress=False,
                                                                                   tensorboard=False), None)
    with pytest.raises(TypeError) as exc:
        trainer.add_hook(Hook())
    assert str(exc.value) == ("Trainer.add_hook: expected a hook with at least one of on_attach, around_forward, "
                              "objective, on_step_end, on_eval_end, got Hook with none")


def test_a_saved_checkpoint_lacking_a_field_is_named_by_its_path(tmp_path):
    from rnnkit.train import load_checkpoint
    path = tmp_path / "c.pt"
    atomic_save({"format": FORMAT, "model": {}}, path)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert str(exc.value) == f"checkpoint {path} lacks the field 'config' (written by another program, or damaged)"
