"""Export: ONNX step graphs with explicit state, stepped in onnxruntime, equal rnnkit; safetensors round-trips.

The ONNX checks here do not trust export's own check: each test steps its own sequence
(another batch size than the traced one) through onnxruntime with carried state and
compares every output and the final state with rnnkit's forward over the whole sequence.
"""
import json

import numpy as np
import onnxruntime
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.jobs import export
from rnnkit.models import Forecaster, LanguageModel, SequenceClassifier, SequenceModel
from rnnkit.train import CheckpointError, load_checkpoint

CONFIG = {"task": "test", "note": "settings travel with the graph"}


def stepped(raw: bytes, x: np.ndarray, state: list, names: tuple) -> tuple[np.ndarray, list]:
    """Outputs (T, B, ·) and final state of stepping x (T, B, ...) through the ONNX graph ``raw``."""
    session = onnxruntime.InferenceSession(raw, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", *names]
    assert [o.name for o in session.get_outputs()] == ["y", *(f"{n}_out" for n in names)]
    ys = []
    for t in range(x.shape[0]):
        y, *state = session.run(None, {"x": x[t], **dict(zip(names, state))})
        ys.append(y)
    return np.stack(ys), state


def assert_streams_like_rnnkit(model, x: torch.Tensor, state: tuple):
    raw, inputs, outputs, _ = export.onnx_bytes(model, CONFIG)
    names = inputs[1:]
    with torch.no_grad():
        want, final = model(x, state[0] if len(state) == 1 else state)
    final = (final,) if isinstance(final, torch.Tensor) else final
    got, got_state = stepped(raw, x.numpy(), [s.numpy() for s in state], names)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-5)
    for g, w in zip(got_state, final):
        np.testing.assert_allclose(g, w.numpy(), rtol=0, atol=1e-5)
    return raw


def test_language_model_streams_in_onnxruntime_with_carried_state():
    torch.manual_seed(0)
    lm = LanguageModel(30, 8, 16, 2, cell="lstm").eval()
    ids = torch.randint(30, (12, 5))  # batch 5: the graph was traced at batch 2
    state = tuple(torch.randn(2, 5, 16) * 0.5 for _ in range(2))
    raw = assert_streams_like_rnnkit(lm, ids, state)
    import onnx
    meta = {p.key: p.value for p in onnx.load_from_string(raw).metadata_props}
    assert json.loads(meta["rnnkit.config"]) == CONFIG
    assert meta["rnnkit.inputs"] == ("x (B,) int64 token ids; h, c (L, B, ·) float32 state, zeros to start; "
                                     "outputs y and h_out, c_out")


@pytest.mark.parametrize("cell", ["gru", "rnn", "mingru"])
def test_forecaster_streams_in_onnxruntime_with_carried_state(cell):
    torch.manual_seed(1)
    model = Forecaster(2, 12, horizon=3, cell=cell).eval()
    x = torch.randn(10, 4, 2)
    raw = assert_streams_like_rnnkit(model, x, (torch.randn(1, 4, 12),))
    import onnx
    meta = {p.key: p.value for p in onnx.load_from_string(raw).metadata_props}
    assert meta["rnnkit.inputs"] == "x (B, I) float32; h (L, B, ·) float32 state, zeros to start; outputs y and h_out"


def test_a_bare_layer_with_projection_streams_with_its_own_state_shapes():
    torch.manual_seed(3)
    layer = rnnkit.LSTM(3, 6, 2, proj_size=2).eval()  # h (L, B, 2), c (L, B, 6)
    assert_streams_like_rnnkit(layer, torch.randn(7, 4, 3), (torch.randn(2, 4, 2), torch.randn(2, 4, 6)))


def test_models_that_cannot_stream_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="bidirectional: the reverse direction reads each sequence from its end"):
        export.onnx_bytes(SequenceModel("gru", 2, 4, 1, bidirectional=True), CONFIG)
    with pytest.raises(ValueError, match="a sequence classifier reads each whole sequence"):
        export.onnx_bytes(SequenceClassifier(2, 4, 3), CONFIG)


def test_a_failed_check_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "check_onnx", lambda raw, model, kind: (0.5, "bad"))
    out = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="disagrees with rnnkit by 0.5"):
        export.save(SequenceModel("rnn", 1, 4, 1), out, "onnx", config=CONFIG)
    assert not out.exists()


def test_safetensors_round_trip_into_the_same_class_with_tied_weights(tmp_path):
    from safetensors.torch import load_file
    torch.manual_seed(2)
    lm = LanguageModel(20, 16, 16, cell="gru", tie_weights=True).eval()
    path = tmp_path / "lm.safetensors"
    export.save(lm, path, "safetensors", config=CONFIG, step=7)
    fresh = LanguageModel(20, 16, 16, cell="gru", tie_weights=True).eval()
    fresh.load_state_dict(load_file(path))  # strict: every name present, tied or not
    assert fresh.head.weight is fresh.embed.weight
    ids = torch.randint(20, (6, 3))
    torch.testing.assert_close(fresh(ids)[0], lm(ids)[0], rtol=0, atol=0)
    ckpt = load_checkpoint(path)
    assert ckpt["config"] == CONFIG and ckpt["step"] == 7 and set(ckpt["model"]) == set(lm.state_dict())


def test_bad_weights_files_are_one_line(tmp_path):
    from safetensors.torch import save_file
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not one written by rnnkit export"):
        load_checkpoint(foreign)
    export.save(SequenceModel("rnn", 1, 4, 1), tmp_path / "m.safetensors", "safetensors", config=CONFIG)
    raw = (tmp_path / "m.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(raw[: len(raw) - 9])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(junk)


@pytest.fixture(scope="module")
def lm_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    text = root / "play.txt"
    text.write_text("Now is the winter of our discontent\nMade glorious summer by this sun of York;\n" * 30)
    assert main(["train", "--task", "lm", "--length", "16", "--batch-size", "4", "--hidden-size", "8",
                 "--embed-size", "4", "--steps", "2", "--eval-every", "0", "--eval-batches", "1",
                 "--sample-length", "0", "--no-progress", "--no-tensorboard", "--text", str(text),
                 "--out", str(root / "lm")]) == 0
    return root / "lm" / "checkpoint.pt"


def test_cli_exports_both_formats_and_commands_read_the_weights_file(lm_checkpoint, capsys):
    capsys.readouterr()
    assert main(["export", str(lm_checkpoint), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "inputs x, h, c; outputs y, h_out, c_out" in out and "checked with onnxruntime" in out
    assert lm_checkpoint.with_suffix(".onnx").stat().st_size > 0
    assert main(["export", str(lm_checkpoint), "--format", "safetensors"]) == 0
    weights = lm_checkpoint.with_suffix(".safetensors")
    assert load_checkpoint(weights)["step"] == load_checkpoint(lm_checkpoint)["step"] == 2
    capsys.readouterr()
    texts = []
    for path in (lm_checkpoint, weights):
        assert main(["generate", str(path), "--prompt", "Now", "--length", "20", "--seed", "3"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]


def test_cli_refuses_to_replace_a_file_and_bad_requests_are_one_line(lm_checkpoint, tmp_path, capsys):
    out = tmp_path / "kept.safetensors"
    out.write_bytes(b"precious")
    capsys.readouterr()
    assert main(["export", str(lm_checkpoint), "--format", "safetensors", "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert main(["export", str(lm_checkpoint), "--format", "safetensors", "--out", str(out), "--overwrite"]) == 0
    assert load_checkpoint(out)["config"]["task"] == "lm"
    assert main(["export", str(lm_checkpoint), "--format", "onnx", "--out", str(tmp_path / "m.txt")]) == 2
    assert "ending in .onnx" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.pt"), "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_a_checkpoint_without_a_step_exports_as_step_0(lm_checkpoint, tmp_path, capsys):
    from rnnkit.train.checkpoint import atomic_save
    ckpt = load_checkpoint(lm_checkpoint)
    del ckpt["step"]
    stepless = tmp_path / "stepless.pt"
    atomic_save(ckpt, stepless)
    assert main(["export", str(stepless), "--format", "safetensors"]) == 0
    assert load_checkpoint(stepless.with_suffix(".safetensors"))["step"] == 0


def test_a_model_without_a_recurrent_layer_is_refused_by_name():
    with pytest.raises(ValueError) as exc:
        export.recurrent_layer(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    assert str(exc.value) == "Sequential holds no rnnkit recurrent layer to export"
