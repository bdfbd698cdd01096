"""Text files, tokens, vocabularies and the TextTask's batches."""
import math

import pytest
import torch

from rnnkit.data.text import UNK, TextTask, Vocabulary, detokenize, read_text, tokenize, unigram_nats


def test_read_text_normalises_line_ends_and_strips_a_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffone\r\ntwo\rthree\n".encode("utf-8"))
    assert read_text(path) == "one\ntwo\nthree\n"


@pytest.mark.parametrize("content, text", [
    pytest.param(b"", "is empty", id="empty"),
    pytest.param(b"  \n\n", "is empty", id="blank"),
    pytest.param(b"PK\x03\x04\x00\x00binary", "looks binary", id="binary"),
    pytest.param("caf\u00e9 cr\u00e8me".encode("latin-1"), "is not UTF-8 (invalid byte 0xe9 at offset 3)", id="latin1"),
])
def test_bad_text_files_are_one_line(tmp_path, content, text):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"text file .*bad\.txt") as exc:
        read_text(path)
    assert text in str(exc.value) and "\n" not in str(exc.value)


def test_missing_text_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read text file"):
        read_text(tmp_path / "nope.txt")


def test_word_tokens_keep_apostrophes_punctuation_and_line_breaks():
    tokens = tokenize("Ham.\n'Tis now struck twelve, sir.", "word")
    assert tokens == ["Ham", ".", "\n", "'", "Tis", "now", "struck", "twelve", ",", "sir", "."]
    assert detokenize(["Good", "night", ",", "sweet", "prince", ".", "\n", "Go"], "word") == \
        "Good night, sweet prince.\nGo"
    assert tokenize("ab\n", "char") == ["a", "b", "\n"]


def test_vocabulary_orders_by_count_maps_unknown_to_zero_and_caps_size():
    vocab = Vocabulary.build(list("abbccc"), "char")
    assert vocab.tokens == (UNK, "c", "b", "a")
    assert vocab.encode("cax").tolist() == [1, 3, 0]
    assert vocab.unknown("cxayx") == ["x", "y"]
    assert Vocabulary.build(list("abbccc"), "char", max_size=3).tokens == (UNK, "c", "b")
    assert Vocabulary.build(list("abbccc"), "char", min_count=2).tokens == (UNK, "c", "b")
    assert vocab.decode([1, 2]) == "cb"
    with pytest.raises(ValueError, match="expected tokens\\[0\\] == '<unk>', got \\('a',\\)"):
        Vocabulary(("a", "b"))


def test_unigram_cross_entropy_is_the_smoothed_frequency():
    train = torch.tensor([1, 1, 1, 2])
    nats = unigram_nats(train, torch.tensor([1, 2]), vocab_size=3)  # counts+1: (1, 4, 2) / 7
    assert nats == pytest.approx(-(math.log(4 / 7) + math.log(2 / 7)) / 2)


def _task(**kw):
    vocab = Vocabulary.build(list("abcdefgh"), "char")
    ids = torch.arange(1, 9).repeat(50)  # (400,)
    return TextTask(ids, vocab, **{"length": 8, "batch_size": 3, **kw})


def test_batches_are_next_token_pairs_and_reproducible():
    task = _task()
    batch = task.batch("train", 5)
    assert batch.x.shape == (8, 3, 1) and batch.y.shape == (8, 3) and batch.x.dtype == torch.long
    assert torch.equal(batch.x[1:, :, 0], batch.y[:-1])  # y is x shifted by one step
    assert torch.equal(task.batch("train", 5).x, batch.x)
    assert not torch.equal(task.batch("train", 6).x, batch.x)
    val = task.batch("val", 0)
    a, _ = task.bounds["val"]
    assert torch.equal(val.x[:, 0, 0], task.ids[a:a + 8])  # the first window of the val part
    assert task.metric_name == "bpc"


def test_split_too_short_for_a_window_is_refused():
    with pytest.raises(ValueError, match="the val part has 20 tokens, expected at least length \\+ 1 = 41"):
        _task(length=40)


@pytest.mark.parametrize("level, name", [("char", "bpc"), ("word", "ppl")])
def test_the_metric_is_bits_per_character_or_perplexity(level, name):
    vocab = Vocabulary.build(list("abcdefgh"), level)
    task = TextTask(torch.arange(1, 9).repeat(50), vocab, length=8, batch_size=3)
    batch = task.batch("train", 0)
    logits = torch.randn(*batch.y.shape, len(vocab.tokens), generator=torch.Generator().manual_seed(0))
    nats = float(task.loss(logits, batch))
    assert task.metric_name == name
    want = nats / math.log(2) if level == "char" else math.exp(nats)
    assert float(task.metric(logits, batch)) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("name", ["val_fraction", "test_fraction"])
def test_an_empty_validation_or_test_part_is_refused(name):
    vocab = Vocabulary(tuple([UNK] + list("abcdefgh")))
    with pytest.raises(ValueError) as exc:
        TextTask(torch.arange(1, 9).repeat(50), vocab, length=8, batch_size=3, **{name: 0.0})
    assert str(exc.value) == f"TextTask: expected {name} in (0, 0.5), got 0.0"


def test_a_vocabulary_given_a_list_keeps_its_tokens_as_a_tuple():
    vocab = Vocabulary([UNK, "a", "b"])
    assert vocab.tokens == (UNK, "a", "b") and isinstance(vocab.tokens, tuple) and vocab.index["b"] == 2
