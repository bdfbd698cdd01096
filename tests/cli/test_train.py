"""``rnnkit train`` in-process: flags, TOML config, resume, and one clear line for each bad input."""
import pytest

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint

TINY = ["--length", "8", "--hidden-size", "6", "--batch-size", "4", "--steps", "3", "--eval-every", "0",
        "--no-progress", "--no-tensorboard"]


def test_train_writes_checkpoint_and_csv_then_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--task", "copy", "--cell", "gru", "--tbptt", "10", "--schedule", "cosine",
                 "--warmup-steps", "1", "--optimizer", "adamw", "--clip-norm", "none", "--clip-value", "0.5",
                 *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "done at step 3" in printed and f"checkpoint: {out / 'checkpoint.pt'}" in printed
    assert f"report on the last weights (step 3), also the best by validation: {out / 'best.pt'}" in printed
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 3 and ckpt["config"]["train"]["tbptt"] == 10 and ckpt["config"]["train"]["clip_norm"] is None
    header = (out / "log.csv").read_text().splitlines()[0]
    assert header == "step,split,loss,metric,grad_norm,lr,tokens_per_s,elapsed_s,event"
    assert main(["train", "--task", "copy", "--cell", "gru", "--tbptt", "10", *TINY, "--steps", "5",
                 "--out", str(out), "--resume"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 5


def test_toml_config_holds_the_same_fields_and_flags_win(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('task = "adding"\ncell = "rnn"\nhidden_size = 5\nlength = 8\nbatch_size = 4\nsteps = 2\n'
                      'eval_every = 0\nprogress = false\ntensorboard = false\nlr = 0.01\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--steps", "3", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 3 and ckpt["config"]["model_cell"] == "rnn" and ckpt["config"]["model_hidden_size"] == 5


@pytest.mark.parametrize("toml, text", [
    pytest.param("hiden_size = 5\n", "unknown key hiden_size for --task adding; valid keys are task, length, "
                 "batch_size", id="key"),
    pytest.param('lr = "fast"\n', "expected lr to be float, got str 'fast'", id="type"),
    pytest.param("steps = 2.5\n", "expected steps to be int, got float 2.5", id="int"),
    pytest.param("[model]\ncell = 'lstm'\n", "expected flat keys, got table(s) model", id="table"),
    pytest.param("steps = \n", "is not valid TOML", id="syntax"),
])
def test_bad_config_file_is_one_line_and_exit_2(tmp_path, capsys, toml, text):
    config = tmp_path / "run.toml"
    config.write_text(toml)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert text in err and err.startswith("rnnkit train: error:") and err.count("\n") == 1


def test_unknown_flag_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--hiden-size", "3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --hiden-size 3; valid options are --batch-size" in err and "--tbptt" in err
    assert err.startswith("rnnkit train: error:") and err.count("\n") == 1


def test_bad_flag_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--cell", "transformer"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'transformer'" in err and err.count("\n") == 1


def test_output_directory_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert main(["train", *TINY, "--out", str(target)]) == 2
    assert "output directory" in capsys.readouterr().err and target.read_text() == "keep me"


def test_resume_problems_are_one_line_and_keep_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--resume", *TINY]) == 2
    assert "checkpoint.pt does not exist" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(out)]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", *TINY, "--task", "copy", "--out", str(out), "--resume"]) == 2
    assert "written for task='adding', this run has task='copy'" in capsys.readouterr().err
    assert main(["train", *TINY, "--hidden-size", "7", "--out", str(out), "--resume"]) == 2
    assert "model_hidden_size=6, this run has model_hidden_size=7" in capsys.readouterr().err
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(before[:100])
    assert main(["train", *TINY, "--out", str(out), "--resume", str(truncated)]) == 2
    assert "is unreadable (truncated" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before


def test_bad_device_is_one_line(tmp_path, capsys):
    assert main(["train", *TINY, "--device", "gpu", "--out", str(tmp_path / "o")]) == 2
    assert "expected device like 'cpu', 'cuda' or 'cuda:1', got 'gpu'" in capsys.readouterr().err


def test_help_shows_choices_and_says_each_thing_once(capsys):
    from rnnkit.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, choices in (("--missing", "{reject,fill}"), ("--mode", "{direct,autoregressive}"),
                          ("--pooling", "{last,mean}"), ("--tokens", "{char,word}")):
        assert f"{flag} {choices}" in text
    assert "--tbptt INT truncated BPTT window k in time steps; none: full BPTT (default: none)" in text
    assert "turns it off" not in text and "None" not in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["esn", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--leak-rate VALUES leak rate a" in text and "--spectral-radius VALUES spectral radius of the" in text
    assert "with --search a list 'v1,v2' or a range 'low:high:count'" in text


@pytest.mark.parametrize("message, memory", [
    ("CUDA out of memory. Tried to allocate 2.00 GiB", True), ("[enforce fail] Out of memory", True),
    ("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes", True),
    ("mat1 and mat2 shapes cannot be multiplied", False)])
def test_allocator_failures_are_told_from_other_runtime_errors(message, memory):
    from rnnkit.cli.main import _out_of_memory
    assert _out_of_memory(RuntimeError(message)) is memory
