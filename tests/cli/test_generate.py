"""``rnnkit generate``: continues a prompt reproducibly; bad prompts and foreign checkpoints are one line."""
import pytest

from rnnkit.cli.main import main

TINY_LM = ["--task", "lm", "--length", "16", "--batch-size", "4", "--hidden-size", "8", "--embed-size", "4",
           "--steps", "2", "--eval-every", "0", "--eval-batches", "1", "--sample-length", "0", "--no-progress",
           "--no-tensorboard"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    text = root / "play.txt"
    text.write_text("Now is the winter of our discontent\nMade glorious summer by this sun of York;\n" * 30)
    for tokens in ("char", "word"):
        assert main(["train", *TINY_LM, "--text", str(text), "--tokens", tokens, "--out", str(root / tokens)]) == 0
    assert main(["train", "--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4",
                 "--steps", "1", "--eval-every", "0", "--no-progress", "--no-tensorboard",
                 "--out", str(root / "adding")]) == 0
    return root


def test_generate_continues_the_prompt_reproducibly(checkpoints, capsys):
    path = str(checkpoints / "char" / "checkpoint.pt")
    capsys.readouterr()
    assert main(["generate", path, "--prompt", "Now is", "--length", "30", "--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("Now is") and len(first.rstrip("\n")) >= 6 + 30 - 1
    assert main(["generate", path, "--prompt", "Now is", "--length", "30", "--seed", "1"]) == 0
    assert capsys.readouterr().out == first
    assert main(["generate", path, "--prompt", "Now is", "--length", "5", "--temperature", "0", "--top-k", "3"]) == 0


def test_top_k_1_is_greedy_whatever_the_seed(checkpoints, capsys):
    path = str(checkpoints / "char" / "checkpoint.pt")
    texts = {}
    for flags in (["--top-k", "1"], ["--temperature", "0"], []):
        for seed in ("1", "2"):
            capsys.readouterr()
            assert main(["generate", path, "--prompt", "Now is", "--length", "40", "--seed", seed, *flags]) == 0
            texts[(len(flags) and flags[0], seed)] = capsys.readouterr().out
    assert texts[("--top-k", "1")] == texts[("--top-k", "2")] == texts[("--temperature", "1")]
    assert texts[(0, "1")] != texts[(0, "2")]  # drawn from the whole distribution, the seed matters


def test_word_model_reads_unknown_words_as_unk(checkpoints, capsys):
    capsys.readouterr()
    assert main(["generate", str(checkpoints / "word" / "checkpoint.pt"), "--prompt", "winter zebra",
                 "--length", "5"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("winter <unk>") and "not in the vocabulary are read as <unk>: 'zebra'" in captured.err


@pytest.mark.parametrize("argv, text", [
    pytest.param(["--prompt", "Now \u00e9t\u00e9"], "the prompt has 1 character(s) outside the model's vocabulary of "
                 "", id="prompt-outside-vocab"),
    pytest.param(["--prompt", ""], "the prompt is empty", id="empty-prompt"),
    pytest.param(["--length", "-1"], "expected --length >= 0, got -1", id="length"),
    pytest.param(["--top-k", "0"], "expected --top-k >= 1, got 0", id="top-k"),
])
def test_bad_requests_are_one_line_and_exit_2(checkpoints, capsys, argv, text):
    capsys.readouterr()
    assert main(["generate", str(checkpoints / "char" / "checkpoint.pt"), *argv]) == 2
    err = capsys.readouterr().err
    assert text in err and err.startswith("rnnkit generate: error:") and err.count("\n") == 1


def test_checkpoint_of_another_task_or_missing_is_refused(checkpoints, tmp_path, capsys):
    capsys.readouterr()
    assert main(["generate", str(checkpoints / "adding" / "checkpoint.pt")]) == 2
    assert "was written for task 'adding'; rnnkit generate needs a checkpoint of task 'lm'" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "none.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
