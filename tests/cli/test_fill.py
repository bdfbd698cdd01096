"""``rnnkit train --task fill`` and ``rnnkit fill``: the right context decides a blank the left cannot."""
import random

import pytest

from rnnkit.cli.main import main

TINY = ["--task", "fill", "--length", "16", "--batch-size", "16", "--hidden-size", "16", "--embed-size", "8",
        "--dropout", "0", "--eval-every", "0", "--eval-batches", "1", "--no-progress", "--no-tensorboard"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A text where the animal is told only by what follows it: 'i saw a cat that said meow'."""
    root = tmp_path_factory.mktemp("fill")
    rng = random.Random(0)
    lines = [f"i saw a {animal} that said {sound} ." for animal, sound in
             (rng.choice([("cat", "meow"), ("dog", "woof")]) for _ in range(600))]
    text = root / "animals.txt"
    text.write_text("\n".join(lines) + "\n")
    assert main(["train", *TINY, "--steps", "600", "--text", str(text), "--out", str(root / "run")]) == 0
    assert main(["train", "--task", "lm", "--tokens", "word", "--text", str(text), "--length", "8", "--steps", "1",
                 "--hidden-size", "4", "--embed-size", "4", "--eval-every", "0", "--sample-length", "0",
                 "--no-progress", "--no-tensorboard", "--out", str(root / "lm")]) == 0
    return root


def _candidates(out: str) -> dict:
    """Printed lines -> {context: {word: probability}}."""
    found = {}
    for line in out.strip().splitlines():
        context, rest = line.split(":", 1)
        values = rest.split()
        found[context] = {w: float(p) for w, p in zip(values[::2], values[1::2])}
    return found


def test_both_and_right_contexts_name_the_animal_the_left_cannot(trained, capsys):
    capsys.readouterr()
    assert main(["fill", str(trained / "run" / "checkpoint.pt"), "i saw a ___ that said meow .", "--top", "3"]) == 0
    found = _candidates(capsys.readouterr().out)
    assert list(found) == ["left context only", "right context only", "both directions"]
    for context in ("right context only", "both directions"):
        assert max(found[context], key=found[context].get) == "cat" and found[context]["cat"] > 0.8, found
    left = found["left context only"]
    assert {"cat", "dog"} <= set(left) and 0.2 < left["cat"] < 0.8 and 0.2 < left["dog"] < 0.8, left
    for probs in found.values():  # printed best first, a distribution's share
        assert list(probs.values()) == sorted(probs.values(), reverse=True) and sum(probs.values()) <= 1.0 + 1e-3
    assert main(["fill", str(trained / "run" / "best.pt"), "i saw a ___ that said woof ."]) == 0
    both = _candidates(capsys.readouterr().out)["both directions"]
    assert max(both, key=both.get) == "dog"


def test_eval_scores_the_three_contexts_on_held_out_text(trained, capsys):
    capsys.readouterr()
    assert main(["eval", str(trained / "run" / "checkpoint.pt"), "--split", "test"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("test: the missing word of ") and out[0].endswith(" blanks, from")
    accuracy = {line.split(":")[0].strip(): float(line.split("accuracy ")[1].split("%")[0]) for line in out[1:4]}
    assert list(accuracy) == ["left context only", "right context only", "both directions"]
    assert accuracy["both directions"] > accuracy["left context only"] + 5  # the animals, told only on the right


def test_words_outside_the_vocabulary_are_read_as_unk(trained, capsys):
    capsys.readouterr()
    assert main(["fill", str(trained / "run" / "checkpoint.pt"), "i saw a ___ that said moo"]) == 0
    captured = capsys.readouterr()
    assert "1 word(s) not in the vocabulary are read as <unk>: 'moo'" in captured.err
    assert len(captured.out.strip().splitlines()) == 3


@pytest.mark.parametrize("sentence, argv, text", [
    pytest.param("i saw a cat", [], "expected exactly one blank ___ in the sentence, found 0", id="no-blank"),
    pytest.param("i ___ a ___", [], "expected exactly one blank ___ in the sentence, found 2", id="two-blanks"),
    pytest.param("___", [], "the sentence is only a blank", id="only-blank"),
    pytest.param("i ___ a cat", ["--top", "0"], "expected --top >= 1, got 0", id="top"),
])
def test_bad_requests_are_one_line_and_exit_2(trained, capsys, sentence, argv, text):
    capsys.readouterr()
    assert main(["fill", str(trained / "run" / "checkpoint.pt"), sentence, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit fill: error:") and text in err and err.count("\n") == 1


def test_a_checkpoint_of_another_task_or_none_is_refused(trained, tmp_path, capsys):
    capsys.readouterr()
    assert main(["fill", str(trained / "lm" / "checkpoint.pt"), "i ___ a cat"]) == 2
    assert "was written for task 'lm'; rnnkit fill needs a checkpoint of task 'fill'" in capsys.readouterr().err
    assert main(["fill", str(tmp_path / "none.pt"), "i ___ a cat"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_truncated_bptt_is_refused_before_training(trained, tmp_path, capsys):
    capsys.readouterr()
    code = main(["train", *TINY, "--steps", "2", "--tbptt", "4", "--text", str(trained / "animals.txt"),
                 "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert code == 2 and err == ("rnnkit train: error: Trainer: truncated BPTT cannot train a bidirectional model "
                                 "(its backward direction reads each sequence from its end): leave tbptt unset\n")
    assert not (tmp_path / "t").exists()  # refused before anything is written
