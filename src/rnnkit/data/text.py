r"""Text corpora for language models: reading UTF-8 files, vocabularies, and batches.

:func:`read_text` reads a UTF-8 text file and refuses, with one clear line, a file
that is missing, empty, binary or in another encoding. A :class:`Vocabulary` maps
characters or words to ids; index 0 is ``<unk>``, which stands for every token the
vocabulary does not hold. The vocabulary is plain data (a tuple of strings) so it is
stored in the model's checkpoint and a checkpoint generates text without the corpus.

:class:`TextTask` serves a corpus to the Trainer. The ids are split in order into
train / val / test parts. Train batch ``index`` holds B windows of T + 1 tokens at
offsets drawn from a generator seeded by ``(seed, "train", index)``; inputs are the
first T tokens and targets the next T (next-token prediction):

.. math::  x_t = w_{o+t},\qquad y_t = w_{o+t+1},\qquad t = 0 \ldots T-1

Validation and test batches are the consecutive windows of their part, in order.
Shapes: ``x`` (T, B, 1) token ids (int64), ``y`` (T, B) ids, ``weight`` (T, B) ones.
"""
from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from rnnkit._checks import check_choice, check_size
from rnnkit.data.batching import SPLITS, Batch, batch_generator
from rnnkit.data.files import read_utf8

UNK = "<unk>"
LEVELS = ("char", "word")
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]|\n")  # words (with inner apostrophes), punctuation, line breaks


def read_text(path: str | os.PathLike) -> str:
    """The contents of a UTF-8 text file; ValueError with one line if missing, empty, binary or not UTF-8."""
    text = read_utf8(path, "text file", hint="; convert it first, e.g. iconv -f latin1 -t utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tokenize(text: str, level: str) -> list[str]:
    """Characters, or words / punctuation marks / line breaks (``level="word"``)."""
    check_choice("tokenize", "level", level, LEVELS)
    return list(text) if level == "char" else _WORD.findall(text)


def detokenize(tokens, level: str) -> str:
    """Join tokens back into text: no spaces for characters; for words, a space before each word."""
    if level == "char":
        return "".join(tokens)
    out = []
    for tok in tokens:
        punctuation = tok != UNK and not tok[0].isalnum() and tok not in "([\""
        glue = not out or out[-1].endswith("\n") or out[-1] in "([\"" or tok == "\n" or punctuation
        out.append(tok if glue else " " + tok)
    return "".join(out)


@dataclass(frozen=True)
class Vocabulary:
    """Token <-> id. ``tokens[0]`` is ``<unk>``; the others are sorted by falling count, then by text."""

    tokens: tuple  # id -> token; tokens[0] == "<unk>"
    level: str = "char"  # "char" or "word"
    index: dict = field(init=False, repr=False, compare=False)  # token -> id

    def __post_init__(self) -> None:
        check_choice("Vocabulary", "level", self.level, LEVELS)
        if not self.tokens or self.tokens[0] != UNK:
            raise ValueError(f"Vocabulary: expected tokens[0] == {UNK!r}, got {self.tokens[:1]!r}")
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(cls, tokens, level: str, max_size: int | None = None, min_count: int = 1) -> "Vocabulary":
        """The vocabulary of ``tokens``: at most ``max_size`` entries (``<unk>`` included), each seen ``min_count`` times."""
        counts = Counter(tokens)
        kept = sorted((t for t, c in counts.items() if c >= min_count and t != UNK), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[:max_size - 1]
        return cls((UNK, *kept), level)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens) -> torch.Tensor:
        """Ids ``(N,)`` int64; unknown tokens become 0 (``<unk>``)."""
        return torch.tensor([self.index.get(t, 0) for t in tokens], dtype=torch.long)

    def unknown(self, tokens) -> list[str]:
        """The distinct tokens not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    def decode(self, ids) -> str:
        return detokenize([self.tokens[int(i)] for i in ids], self.level)


def unigram_nats(train_ids: torch.Tensor, eval_ids: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (nats per token) of ``eval_ids`` under add-one-smoothed train token frequencies."""
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0  # (V,)
    logp = counts.log() - counts.sum().log()
    return float(-logp[eval_ids].mean())


@dataclass(frozen=True, eq=False)
class TextTask:
    """Next-token prediction over a tokenised corpus (see module docs)."""

    ids: torch.Tensor  # (N,) int64 token ids of the whole corpus
    vocab: Vocabulary  # the token <-> id map
    length: int = 128  # T, tokens per window
    batch_size: int = 32  # B, windows per batch
    seed: int = 0  # data seed: train batch ``index`` is a function of (seed, index)
    val_fraction: float = 0.05  # the part of the corpus before the test part used for validation
    test_fraction: float = 0.05  # the last part of the corpus, held out for testing

    name = "lm"

    def __post_init__(self) -> None:
        check_size("TextTask", "length", self.length)
        check_size("TextTask", "batch_size", self.batch_size)
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ValueError(f"TextTask: expected {name} in (0, 0.5), got {getattr(self, name)}")
        n = self.ids.numel()
        n_test, n_val = int(n * self.test_fraction), int(n * self.val_fraction)
        bounds = {"train": (0, n - n_val - n_test), "val": (n - n_val - n_test, n - n_test), "test": (n - n_test, n)}
        for split, (a, b) in bounds.items():
            if b - a < self.length + 1:
                raise ValueError(f"TextTask: the {split} part has {b - a} tokens, expected at least "
                                 f"length + 1 = {self.length + 1}; use a longer text or a shorter --length")
        object.__setattr__(self, "bounds", bounds)

    @property
    def metric_name(self) -> str:
        return "bpc" if self.vocab.level == "char" else "ppl"

    def split_ids(self, split: str) -> torch.Tensor:
        """The ids of one part, ``(N_split,)``."""
        check_choice("TextTask", "split", split, SPLITS)
        a, b = self.bounds[split]
        return self.ids[a:b]

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: x (T, B, 1), y (T, B), weight (T, B)."""
        check_size("TextTask", "index", index, minimum=0)
        ids = self.split_ids(split)
        T, B = self.length, self.batch_size
        if split == "train":
            starts = torch.randint(0, ids.numel() - T, (B,), generator=batch_generator(self.seed, split, index))
        else:
            windows = (ids.numel() - 1) // T
            starts = ((index * B + torch.arange(B)) % windows) * T
        rows = ids[starts[:, None] + torch.arange(T + 1)].T  # (T+1, B)
        return Batch(rows[:-1, :, None], rows[1:], torch.ones(T, B))

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy in nats per token; output (T, B, V) logits."""
        per_step = F.cross_entropy(output.flatten(0, 1), batch.y.flatten(0, 1), reduction="none")  # (T*B,)
        return (per_step.view_as(batch.weight) * batch.weight).sum() / batch.weight.sum()

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Bits per character (char level) or perplexity (word level) of this batch."""
        nats = self.loss(output, batch).detach()
        return nats / math.log(2) if self.vocab.level == "char" else nats.exp()
