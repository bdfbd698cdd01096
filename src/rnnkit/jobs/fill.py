"""``--task fill``: fill in a missing word of the bundled Shakespeare (or any UTF-8 text) from its left, its
right, or both sides.

One :class:`~rnnkit.models.FillModel` (a bidirectional recurrent layer and three heads) is trained on windows
of words (:class:`~rnnkit.data.blanks.FillTask`); after training, and in ``rnnkit eval``, each head's accuracy
and perplexity of the missing words of the held-out text are reported side by side; ``rnnkit fill`` shows
each head's candidates for the blank of a sentence.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit._fields import check_fields, option
from rnnkit.data.blanks import HEADS, FillTask, is_word
from rnnkit.data.text import TextTask, Vocabulary, tokenize
from rnnkit.jobs.base import (Built, EvalOptions, Restored, cell_option, checkpoint_fields, engine_option,
                              init_option, load_weights, restore_config)
from rnnkit.jobs.lm import load_text, text_option
from rnnkit.models.fill import FillModel
from rnnkit.train.checkpoint import CheckpointError

NAME = "fill"
TRAIN_DEFAULTS = {"lr": 0.003, "eval_every": 250, "eval_batches": 8, "checkpoint_every": 250, "max_minutes": 10.0}
EXAMPLE = "The boys went to ___ and then they got out of the pool"
CONTEXTS = {"left": "left context only", "right": "right context only", "both": "both directions"}


@dataclass(frozen=True)
class FillConfig:
    """A fill-in-the-blank run: the text, its word vocabulary, the model."""

    text: str = text_option("text")
    max_vocab: int = text_option("max_vocab")
    min_count: int = text_option("min_count")
    val_fraction: float = option(0.1, "share of the data (just before the test part) for validation")
    test_fraction: float = option(0.05, "share of the data (the last part) held out for testing")
    length: int = option(32, "fill: T, words per window (each one a blank, its neighbours the context)", minimum=3)
    batch_size: int = option(32, "windows per batch", minimum=1)
    data_seed: int = option(0, "seed of the windows' positions", minimum=0)
    cell: str = cell_option()
    embed_size: int = text_option("embed_size")
    hidden_size: int = option(128, "H per direction", minimum=1)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1)
    dropout: float = option(0.1, "fill: dropout on the embeddings and before the heads")
    engine: str = engine_option()
    init: str = init_option()

    def __post_init__(self) -> None:
        check_fields(self)


Config = FillConfig


def make_model(config: FillConfig, vocab_size: int) -> FillModel:
    return FillModel(vocab_size, config.embed_size, config.hidden_size, config.num_layers, cell=config.cell,
                     dropout=config.dropout, engine=config.engine,
                     init=None if config.init == "default" else config.init)


def build(config: FillConfig) -> Built:
    """Read and split the text into words, build the vocabulary on the training part, and the model."""
    tokens = tokenize(load_text(config), "word")
    n = len(tokens)
    n_train = n - int(n * config.val_fraction) - int(n * config.test_fraction)
    vocab = Vocabulary.build(tokens[:n_train], "word", config.max_vocab, config.min_count)
    text = TextTask(vocab.encode(tokens), vocab, config.length, config.batch_size, config.data_seed,
                    config.val_fraction, config.test_fraction)
    task = FillTask(text)
    run_fields = checkpoint_fields(config, task_tokens="word", task_vocab=list(vocab.tokens),
                                   model_cell=config.cell, model_embed_size=config.embed_size,
                                   model_hidden_size=config.hidden_size, model_num_layers=config.num_layers)
    return Built(config, task, make_model(config, len(vocab)), run_fields)


def restore(ckpt: dict, path) -> Restored:
    """The model and its vocabulary (``transforms["vocab"]``) from a ``fill`` checkpoint, without the text."""
    config = restore_config(FillConfig, NAME, ckpt, path)
    try:
        vocab = Vocabulary(tuple(ckpt["config"]["task_vocab"]), "word")
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks a valid vocabulary: {exc}") from None
    model = make_model(config, len(vocab))
    load_weights(model, ckpt, path)
    return Restored(config, model, {"vocab": vocab}, int(ckpt.get("step", 0)))


def describe(scores: dict, split: str) -> list[str]:
    """One line per context: accuracy and perplexity of the missing words."""
    lines = [f"{split}: the missing word of {scores['words']} blanks, from"]
    for head in HEADS:
        lines.append(f"  {CONTEXTS[head] + ':':20s} accuracy {scores[head]['accuracy']:.1%}, "
                     f"perplexity {scores[head]['perplexity']:.1f}")
    return lines


def read_sentence(vocab: Vocabulary, text: str) -> tuple[list[str], int, list[str]]:
    """The sentence's words, the position of its one blank (a run of underscores), and its unknown words."""
    words = tokenize(text, "word")
    blanks = [i for i, w in enumerate(words) if set(w) == {"_"}]
    if len(blanks) != 1:
        raise ValueError(f"expected exactly one blank ___ in the sentence, found {len(blanks)}: {text!r}")
    position = blanks[0]
    others = words[:position] + words[position + 1:]
    if not others:
        raise ValueError("the sentence is only a blank; give at least one word of context around ___")
    return words, position, vocab.unknown(others)


def candidates(restored: Restored, words: list[str], position: int, top: int = 5) -> dict:
    """``head -> [(word, probability)]``: each head's ``top`` fillers of the blank (among fillable words)."""
    vocab, model = restored.transforms["vocab"], restored.model
    ids = vocab.encode(words)  # the blank reads as <unk>; no head sees its own position anyway
    allowed = torch.tensor([is_word(t) for t in vocab.tokens])
    with torch.no_grad():
        logits = model(ids[:, None])[0][position, 0]  # (3, V)
    probs = torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    best = probs.topk(min(top, int(allowed.sum())), dim=-1)
    return {head: [(vocab.tokens[int(j)], float(p)) for p, j in zip(best.values[i], best.indices[i])]
            for i, head in enumerate(HEADS)}


def report(trainer, built: Built) -> list[str]:
    """The validation scores of the three contexts, then the candidates for the example sentence."""
    model = trainer.raw_model.cpu()
    lines = describe(built.task.scores(model, "val"), "validation")
    words, position, _ = read_sentence(built.task.vocab, EXAMPLE)
    restored = Restored(built.config, model, {"vocab": built.task.vocab}, trainer.step)
    lines.append(f"{EXAMPLE!r}:")
    for head, best in candidates(restored, words, position).items():
        lines.append(f"  {CONTEXTS[head] + ':':20s} " + ", ".join(f"{w} {p:.3f}" for w, p in best))
    return lines


def evaluate(restored: Restored, split: str, options: EvalOptions) -> list[str]:
    """``rnnkit eval``: the three contexts' scores on the whole ``split`` part of the training text."""
    built = build(restored.config)
    if built.task.vocab.tokens != restored.transforms["vocab"].tokens:
        raise ValueError(f"the text {restored.config.text!r} has changed since training "
                         f"(its vocabulary differs from the checkpoint's)")
    return describe(built.task.scores(restored.model, split), split)  # on the CPU, as lm's eval
