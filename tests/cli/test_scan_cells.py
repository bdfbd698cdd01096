"""``--cell mingru|minlstm`` through the CLI: train, resume, eval, generate (step mode), diagnose."""
import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.jobs import restore
from rnnkit.models import sample

TINY_LM = ["--task", "lm", "--length", "16", "--batch-size", "4", "--hidden-size", "8", "--embed-size", "4",
           "--eval-every", "0", "--eval-batches", "1", "--sample-length", "0", "--no-progress", "--no-tensorboard"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text("Now is the winter of our discontent\nMade glorious summer by this sun of York;\n" * 30)
    return path


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_language_model_trains_resumes_and_generates(cell, tmp_path, text, capsys):
    out = tmp_path / cell
    base = ["train", *TINY_LM, "--cell", cell, "--num-layers", "2", "--text", str(text), "--out", str(out)]
    assert main([*base, "--steps", "2"]) == 0
    assert main([*base, "--steps", "4", "--resume"]) == 0
    assert "done at step 4" in capsys.readouterr().out
    path = out / "checkpoint.pt"
    _, restored = restore(path)
    assert restored.config.cell == cell and restored.step == 4
    layer = restored.model.body.rnn
    assert type(layer).__name__ == {"mingru": "MinGRU", "minlstm": "MinLSTM"}[cell] and layer.num_layers == 2
    assert main(["eval", str(path)]) == 0
    assert "bits/char" in capsys.readouterr().out
    assert main(["generate", str(path), "--prompt", "Now is", "--length", "25", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert main(["generate", str(path), "--prompt", "Now is", "--length", "25", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first and first.startswith("Now is")


def test_generation_in_step_mode_equals_running_the_whole_text(tmp_path, text):
    """``rnnkit generate`` feeds one token at a time with the carried state; over the same tokens
    that gives the logits of one parallel call over the whole text."""
    out = tmp_path / "run"
    assert main(["train", *TINY_LM, "--cell", "mingru", "--num-layers", "2", "--steps", "3", "--text", str(text),
                 "--out", str(out)]) == 0
    _, restored = restore(out / "checkpoint.pt")
    model = restored.model.eval()
    tokens = torch.randint(0, len(restored.transforms["vocab"]), (30, 1), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole, _ = model(tokens, None)  # (30, 1, V) in one call
        logits, state = model(tokens[:6], None)  # a prompt, then step by step as sampling does
        steps = [logits]
        for t in range(6, 30):
            logits, state = model(tokens[t:t + 1], state)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps), whole, atol=1e-5, rtol=1e-5)
    assert len(sample(model, tokens[:6, 0], 10, temperature=0.0)) == 10


def test_adding_task_with_chrono_init_and_diagnose(tmp_path, capsys):
    out = tmp_path / "adding"
    assert main(["train", "--task", "adding", "--length", "20", "--cell", "minlstm", "--init", "chrono",
                 "--hidden-size", "8", "--batch-size", "4", "--steps", "3", "--eval-every", "0", "--no-progress",
                 "--no-tensorboard", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["diagnose", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(tmp_path / "diag")]) == 0
    printed = capsys.readouterr().out
    assert "rnnkit diagnose: minlstm" in printed
    assert "no W_hh: the recurrence is element-wise, dh_t/dh_(t-1) = diag(a_t)" in printed
    assert (tmp_path / "diag" / "gradient_flow.png").exists() and not (tmp_path / "diag" / "eigenvalues.png").exists()


def test_spectral_radius_is_refused_for_the_min_cells(capsys):
    from rnnkit.models import SequenceModel
    with pytest.raises(ValueError, match="expected spectral_radius=None for cell 'mingru', whose recurrence is "
                                         "element-wise"):
        SequenceModel("mingru", 2, 4, 1, spectral_radius=0.9)


@pytest.mark.parametrize("task", [
    ["--task", "forecast", "--length", "8", "--horizon", "2", "--batch-size", "4"],
    ["--task", "classify", "--batch-size", "8", "--eval-batches", "1", "--bidirectional"],
    ["--task", "copy", "--length", "5", "--batch-size", "4"],
], ids=["forecast", "classify", "copy"])
@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_every_task_trains_with_the_min_cells_and_evaluates(task, cell, tmp_path):
    out = tmp_path / "run"
    assert main(["train", *task, "--cell", cell, "--hidden-size", "4", "--steps", "2", "--eval-every", "0",
                 "--no-progress", "--no-tensorboard", "--out", str(out)]) == 0
    _, restored = restore(out / "checkpoint.pt")
    assert restored.config.cell == cell
    assert main(["eval", str(out / "checkpoint.pt")]) == 0


def test_inits_that_need_a_recurrent_matrix_are_one_line(tmp_path, capsys):
    assert main(["train", "--task", "adding", "--length", "8", "--cell", "mingru", "--init", "orthogonal",
                 "--hidden-size", "4", "--steps", "1", "--no-progress", "--no-tensorboard",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MinGRUCell has no weight_hh; this initialisation needs one" in err[0]
