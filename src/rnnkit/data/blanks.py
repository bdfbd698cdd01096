r"""Fill-in-the-blank over a word-level corpus: predict a missing word from the words around it.

A :class:`FillTask` serves windows of T consecutive words of a
:class:`~rnnkit.data.text.TextTask` (the same train / val / test parts, the same random
training windows and consecutive held-out windows). Every position of a window is a
blank to fill:

.. math::  x_t = w_{o+t},\qquad y_t = w_{o+t},\qquad t = 0 \ldots T-1

so the target is the input itself; a model may predict ``y_t`` only from ``x_{<t}``
(left context), ``x_{>t}`` (right context) or both, never from ``x_t``
(:class:`rnnkit.models.FillModel` is built so). ``weight`` is 1 where the target is a
word of the vocabulary (letters or digits, not ``<unk>``, punctuation or a line break)
and both neighbours exist (0 < t < T - 1), else 0: the scores are over missing *words*.

Shapes: ``x`` (T, B, 1) ids, ``y`` (T, B) ids, ``weight`` (T, B); model output
(T, B, 3, V) logits for the heads ``HEADS`` = left, right, both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnkit._checks import check_size
from rnnkit.data.batching import Batch
from rnnkit.data.text import UNK, TextTask

HEADS = ("left", "right", "both")  # which context each head of the model's output reads


def is_word(token: str) -> bool:
    """A blank worth filling: a vocabulary word that starts with a letter or digit (not ``<unk>``)."""
    return token != UNK and token[:1].isalnum()


@dataclass(frozen=True, eq=False)
class FillTask:
    """The blanks of a word-level :class:`TextTask` (see module docs); the loss is the mean over the three heads."""

    text: TextTask  # its windows, parts and vocabulary (word level)

    name = "fill"
    metric_name = "accuracy"  # of the head that reads both directions

    def __post_init__(self) -> None:
        if self.text.vocab.level != "word":
            raise ValueError(f"FillTask: expected a word-level text, got {self.text.vocab.level!r} tokens")
        check_size("FillTask", "length", self.text.length, minimum=3)
        words = torch.tensor([is_word(t) for t in self.text.vocab.tokens])  # (V,) bool
        object.__setattr__(self, "words", words)

    @property
    def vocab(self):
        return self.text.vocab

    @property
    def baseline(self) -> float:
        """ln(number of fillable words): the cross-entropy of a uniform guess among them."""
        return math.log(int(self.words.sum()))

    def batch(self, split: str, index: int) -> Batch:
        """Batch ``index`` of ``split``: the text's window of T words, each its own target."""
        x = self.text.batch(split, index).x  # (T, B, 1); its y is the next word, not needed here
        y = x[..., 0]
        weight = self.words[y].float()  # (T, B)
        weight[0] = weight[-1] = 0.0
        return Batch(x, y, weight)

    def per_head(self, output: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Summed nats (3,), right guesses (3,) of each head over the weighted positions, and their count."""
        T, B, H, V = output.shape
        y = batch.y[:, :, None].expand(T, B, H)
        nats = F.cross_entropy(output.reshape(-1, V), y.reshape(-1), reduction="none").view(T, B, H)
        right = (output.argmax(-1) == y).float()
        w = batch.weight[:, :, None]
        return (nats * w).sum((0, 1)), (right * w).sum((0, 1)), batch.weight.sum()

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean over the three heads of the cross-entropy of the missing words (nats)."""
        nats, _, count = self.per_head(output, batch)
        return nats.mean() / count.clamp(min=1)

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Accuracy of the both-directions head."""
        _, right, count = self.per_head(output.detach(), batch)
        return right[-1] / count if count > 0 else torch.tensor(float("nan"))

    def scores(self, model, split: str) -> dict:
        """Accuracy and perplexity of each head over every consecutive window of ``split`` (eval mode, no grad)."""
        windows = (self.text.split_ids(split).numel() - 1) // self.text.length
        was_training = model.training
        model.eval()
        nats, right, count = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 0.0
        with torch.no_grad():
            for index in range(math.ceil(windows / self.text.batch_size)):
                batch = self.batch(split, index)
                keep = min(self.text.batch_size, windows - index * self.text.batch_size)  # the last batch wraps
                batch = Batch(batch.x[:, :keep], batch.y[:, :keep], batch.weight[:, :keep])
                n, r, c = self.per_head(model(batch.x)[0], batch)
                nats, right, count = nats + n.double(), right + r.double(), count + float(c)
        model.train(was_training)
        return {"words": int(count), **{head: {"accuracy": float(right[i] / count),
                                                "perplexity": math.exp(float(nats[i] / count))}
                                         for i, head in enumerate(HEADS)}}
