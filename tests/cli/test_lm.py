"""``rnnkit train --task lm`` in-process on a tiny text: checkpoint, report, sample, bad input."""
import pytest

from rnnkit.cli.main import main
from rnnkit.train import load_checkpoint

TINY = ["--task", "lm", "--length", "16", "--batch-size", "4", "--hidden-size", "8", "--embed-size", "4",
        "--steps", "3", "--eval-every", "0", "--eval-batches", "1", "--sample-length", "20", "--no-progress",
        "--no-tensorboard"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 40)
    return path


@pytest.mark.parametrize("tokens, score", [("char", "bits/char (unigram"), ("word", "perplexity")])
def test_lm_trains_reports_baselines_and_samples(tmp_path, capsys, text, tokens, score):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--text", str(text), "--tokens", tokens, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "done at step 3 (the step budget); val loss " in printed and score in printed
    # the two validation figures say what each measures
    assert "(mean of 1 validation batch)" in printed
    assert "\nvalidation, the whole text with the state carried through: " in printed
    assert "sample (temperature 0.8, seed 0):" in printed
    assert ("xz -9:" in printed) == (tokens == "char")
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["config"]["task"] == "lm" and ckpt["config"]["task_vocab"][0] == "<unk>"
    assert ckpt["config"]["job"]["tokens"] == tokens


def test_resume_with_another_vocabulary_is_refused(tmp_path, capsys, text):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--text", str(text), "--out", str(out)]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    other = tmp_path / "other.txt"
    other.write_text("completely different words here\n" * 50)
    capsys.readouterr()
    assert main(["train", *TINY, "--text", str(other), "--out", str(out), "--resume"]) == 2
    assert "was written for task_vocab=" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("content, text", [
    pytest.param(b"", "is empty", id="empty"),
    pytest.param(b"\x00\x01\x02binary", "looks binary", id="binary"),
    pytest.param("\u00e9t\u00e9 ".encode("latin-1") * 50, "is not UTF-8", id="latin1"),
])
def test_bad_text_is_one_line_and_exit_2(tmp_path, capsys, content, text):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert main(["train", *TINY, "--text", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert text in err and err.startswith("rnnkit train: error:") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_job_flag_on_a_synthetic_task_and_unknown_toml_key_are_refused(tmp_path, capsys):
    assert main(["train", "--task", "adding", "--tokens", "word", "--out", str(tmp_path / "o")]) == 2
    assert "unknown key tokens for --task adding; valid keys are task, length" in capsys.readouterr().err
    config = tmp_path / "run.toml"
    config.write_text('task = "lm"\nnonlinearity = "relu"\n')
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key nonlinearity for --task lm; valid keys are task, text, tokens" in capsys.readouterr().err


def test_eval_scores_the_whole_test_part_and_notices_a_changed_text(tmp_path, capsys, text):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--text", str(text), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out / "checkpoint.pt")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("test: ") and "bits/char (unigram" in printed and "xz -9:" in printed
    text.write_text("something else entirely, with new letters: QXZ\n" * 40)
    assert main(["eval", str(out / "checkpoint.pt")]) == 2
    assert "has changed since training" in capsys.readouterr().err


def test_resume_from_a_checkpoint_of_another_task_is_refused(tmp_path, capsys, text):
    out = tmp_path / "run"
    assert main(["train", "--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4",
                 "--steps", "1", "--eval-every", "0", "--no-progress", "--no-tensorboard", "--out", str(out)]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", *TINY, "--text", str(text), "--out", str(out), "--resume"]) == 2
    assert "written for task='adding', this run has task='lm'" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before


def test_the_make_train_flags_parse_and_make_a_valid_config():
    import re
    import shlex
    from pathlib import Path

    from rnnkit import jobs
    from rnnkit.cli.main import build_parser
    from rnnkit.cli.train import _config_keys

    makefile = (Path(__file__).parents[2] / "Makefile").read_text().replace("\\\n", " ")
    flags = shlex.split(re.search(r"^TRAIN_FLAGS \?= (.*)$", makefile, flags=re.M).group(1))
    args = build_parser().parse_args(["train", *flags, "--out", "unused"])
    values = {k: getattr(args, k) for k in _config_keys() if hasattr(args, k)}
    config, train = jobs.from_mapping(jobs.get("lm"), values, "Makefile")
    assert config.tokens == "char" and config.cell == "lstm" and train.max_minutes == 2 and args.threads == 1


def test_the_closing_sample_never_writes_the_unknown_token(tmp_path, capsys):
    words = " ".join(f"w{i}" for i in range(300))  # each word 3 times: with --min-count 4 all but "the" are <unk>
    (tmp_path / "rare.txt").write_text((words + " the the the\n") * 3)
    assert main(["train", "--task", "lm", "--tokens", "word", "--min-count", "4", "--text", str(tmp_path / "rare.txt"),
                 "--length", "8", "--batch-size", "4", "--hidden-size", "8", "--embed-size", "4", "--steps", "2",
                 "--eval-every", "0", "--eval-batches", "1", "--sample-length", "40", "--temperature", "1",
                 "--no-progress", "--no-tensorboard", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    sample = out[out.index("sample (temperature 1.0, seed 0):"):].splitlines()[1]
    assert sample.split() and "<unk>" not in sample
