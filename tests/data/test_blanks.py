"""FillTask: every word of a window is a blank; only words count; the three heads are scored apart."""
import math

import pytest
import torch

from rnnkit.data.blanks import HEADS, FillTask, is_word
from rnnkit.data.text import TextTask, Vocabulary, tokenize

TEXT = "the cat sat on the mat , and the dog sat on the log .\n" * 40


def _task(length=8, batch_size=4, level="word"):
    tokens = tokenize(TEXT, level)
    vocab = Vocabulary.build(tokens, level)
    return FillTask(TextTask(vocab.encode(tokens), vocab, length, batch_size, seed=0))


def test_the_target_is_the_window_itself_and_only_inner_words_count():
    task = _task()
    batch = task.batch("train", 0)
    assert batch.x.shape == (8, 4, 1) and torch.equal(batch.y, batch.x[..., 0])
    tokens = [[task.vocab.tokens[int(i)] for i in column] for column in batch.y.T]  # (B, T) words
    for b, words in enumerate(tokens):
        expected = [float(0 < t < 7 and w[0].isalnum()) for t, w in enumerate(words)]
        assert batch.weight[:, b].tolist() == expected, words
    assert batch.weight[0].sum() == 0 and batch.weight[-1].sum() == 0


def test_unknown_words_punctuation_and_line_breaks_are_not_blanks():
    assert [is_word(t) for t in ("<unk>", ",", ".", "\n", "cat", "o'er", "3")] == [False] * 4 + [True] * 3


def test_loss_is_the_mean_of_the_heads_and_the_metric_is_the_both_head():
    task = _task()
    batch = task.batch("val", 0)
    V = len(task.vocab)
    right = torch.nn.functional.one_hot(batch.y, V).float() * 20  # (T, B, V) sure and right
    wrong = torch.zeros_like(right)  # uniform
    output = torch.stack([right, wrong, right], dim=2)  # left right, right-context uniform, both right
    w = batch.weight
    assert task.loss(output, batch).item() == pytest.approx(math.log(V) / 3, rel=1e-4)
    assert task.metric(output, batch).item() == 1.0
    nats, hits, count = task.per_head(output, batch)
    # a uniform output's argmax is id 0, <unk>, never a blank: the right-context head gets none right
    assert count == w.sum() and hits.tolist() == [float(count), 0.0, float(count)]
    assert nats[1].item() == pytest.approx(math.log(V) * float(w.sum()), rel=1e-5)


def test_scores_count_every_held_out_window_once():
    task = _task(length=8, batch_size=3)
    ids = task.text.split_ids("test")
    windows = (ids.numel() - 1) // 8
    expected = 0
    for start in range(0, windows * 8, 8):
        words = [task.vocab.tokens[int(i)] for i in ids[start:start + 8]]
        expected += sum(1 for t, w in enumerate(words) if 0 < t < 7 and is_word(w))

    class Uniform(torch.nn.Module):
        def forward(self, x, state=None):
            return torch.zeros(*x.shape[:2], 3, len(task.vocab)), None
    scores = task.scores(Uniform(), "test")
    assert scores["words"] == expected > 0
    for head in HEADS:
        assert scores[head]["perplexity"] == pytest.approx(len(task.vocab), rel=1e-6)


def test_a_character_text_is_refused():
    with pytest.raises(ValueError, match="FillTask: expected a word-level text, got 'char' tokens"):
        _task(level="char")


def test_windows_need_a_word_between_two_neighbours():
    with pytest.raises(ValueError, match="FillTask: expected length >= 3, got 2"):
        _task(length=2)
