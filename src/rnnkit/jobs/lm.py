"""``--task lm``: a character- or word-level language model on the bundled Shakespeare or any UTF-8 text.

After training it reports, on the whole validation text with the state carried through:
the model's bits per character (char level) or perplexity (word level) beside a unigram
model fitted on the training part, and for characters ``xz -9``'s bits per character
(LZMA preset 9) on exactly the same text; then it prints a sample.
"""
from __future__ import annotations

import lzma
import math
from dataclasses import dataclass

import torch

from rnnkit._fields import check_fields, option
from rnnkit.data.datasets import shakespeare
from rnnkit.data.text import LEVELS, TextTask, Vocabulary, read_text, tokenize, unigram_nats
from rnnkit.jobs.base import (Built, EvalOptions, Restored, cell_option, checkpoint_fields, engine_option,
                              init_option, load_weights, restore_config)
from rnnkit.models.language import LanguageModel, evaluate_nats
from rnnkit.models.sampling import sample
from rnnkit.train.checkpoint import CheckpointError

NAME = "lm"
BUNDLED_TEXT = "shakespeare"
TRAIN_DEFAULTS = {"lr": 0.002, "eval_every": 250, "eval_batches": 8, "checkpoint_every": 250, "max_minutes": 10.0}


# The text and vocabulary fields the lm and fill jobs share: name -> (default, help, bounds).
TEXT_FIELDS = {
    "text": (BUNDLED_TEXT, "lm, fill: a UTF-8 text file, or \"shakespeare\" for the bundled corpus", {}),
    "max_vocab": (5000, "lm, fill: at most this many tokens (<unk> included); rarer ones become <unk>",
                  {"minimum": 2}),
    "min_count": (1, "lm, fill: a token seen fewer times in the training part becomes <unk>", {"minimum": 1}),
    "embed_size": (64, "lm, fill: E, the token embedding size", {"minimum": 1}),
}


def text_option(name: str):
    """The field ``name`` of :data:`TEXT_FIELDS`, for a job's config."""
    default, text, bounds = TEXT_FIELDS[name]
    return option(default, text, **bounds)


@dataclass(frozen=True)
class LMConfig:
    """A language model run: the text, its tokens, the model."""

    text: str = text_option("text")
    tokens: str = option("char", "lm: \"char\" or \"word\" tokens", choices=LEVELS)
    max_vocab: int = text_option("max_vocab")
    min_count: int = text_option("min_count")
    val_fraction: float = option(0.1, "share of the data (just before the test part, or drawn at random) for validation")
    test_fraction: float = option(0.05, "share of the data (the last part, or drawn at random) held out for testing")
    length: int = option(128, "T: tokens per training window (BPTT length, or use --tbptt)", minimum=1)
    batch_size: int = option(32, "windows per batch", minimum=1)
    data_seed: int = option(0, "seed of the windows' positions", minimum=0)
    cell: str = cell_option()
    embed_size: int = text_option("embed_size")
    hidden_size: int = option(256, "H", minimum=1)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1)
    dropout: float = option(0.0, "lm: dropout on embeddings, between layers and before the read-out")
    tie_weights: bool = option(False, "lm: share the embedding with the read-out (needs embed_size == hidden_size)")
    engine: str = engine_option()
    init: str = init_option()
    sample_length: int = option(400, "lm: tokens generated after training (0: none)", minimum=0)
    temperature: float = option(0.8, "lm: sampling temperature of that sample")

    def __post_init__(self) -> None:
        check_fields(self)


Config = LMConfig


def load_text(config: LMConfig) -> str:
    return shakespeare() if config.text == BUNDLED_TEXT else read_text(config.text)


def make_model(config: LMConfig, vocab_size: int) -> LanguageModel:
    return LanguageModel(vocab_size, config.embed_size, config.hidden_size, config.num_layers, cell=config.cell,
                         dropout=config.dropout, tie_weights=config.tie_weights, engine=config.engine,
                         init=None if config.init == "default" else config.init)


def build(config: LMConfig) -> Built:
    """Read and split the text, build the vocabulary on the training part, and the model."""
    text = load_text(config)
    tokens = tokenize(text, config.tokens)
    n = len(tokens)
    n_train = n - int(n * config.val_fraction) - int(n * config.test_fraction)
    vocab = Vocabulary.build(tokens[:n_train], config.tokens, config.max_vocab, config.min_count)
    task = TextTask(vocab.encode(tokens), vocab, config.length, config.batch_size, config.data_seed,
                    config.val_fraction, config.test_fraction)
    model = make_model(config, len(vocab))
    run_fields = checkpoint_fields(config, task_tokens=config.tokens, task_vocab=list(vocab.tokens),
                                   model_cell=config.cell, model_embed_size=config.embed_size,
                                   model_hidden_size=config.hidden_size, model_num_layers=config.num_layers,
                                   model_tie_weights=config.tie_weights)
    a, b = task.bounds["val"]
    extra = {"val_text": "".join(tokens[a:b]) if config.tokens == "char" else None}
    return Built(config, task, model, run_fields, extra)


def restore(ckpt: dict, path) -> Restored:
    """The model and its vocabulary (``transforms["vocab"]``) from an ``lm`` checkpoint, without the text."""
    config = restore_config(LMConfig, NAME, ckpt, path)
    try:
        vocab = Vocabulary(tuple(ckpt["config"]["task_vocab"]), config.tokens)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks a valid vocabulary: {exc}") from None
    model = make_model(config, len(vocab))
    load_weights(model, ckpt, path)
    return Restored(config, model, {"vocab": vocab}, int(ckpt.get("step", 0)))


def measure(model, task: TextTask, split: str) -> dict:
    """Model and unigram cross-entropy (nats per token) on the whole ``split`` part, and its token count."""
    ids = task.split_ids(split)
    return {"tokens": ids.numel(), "model": evaluate_nats(model, ids),
            "unigram": unigram_nats(task.split_ids("train"), ids[1:], len(task.vocab))}


def xz_bits_per_char(text: str) -> float:
    """8 * len(xz -9 of the UTF-8 text) / number of characters (LZMA preset 9, as ``xz -9``)."""
    return 8 * len(lzma.compress(text.encode("utf-8"), preset=9)) / len(text)


def describe(scores: dict, level: str, split: str) -> str:
    """One line: bits per character or perplexity of the model beside the unigram baseline."""
    if level == "char":
        bits = {k: scores[k] / math.log(2) for k in ("model", "unigram")}
        return (f"{split}: {bits['model']:.3f} bits/char (unigram {bits['unigram']:.3f}) "
                f"over {scores['tokens']} characters")
    ppl = {k: math.exp(scores[k]) for k in ("model", "unigram")}
    return (f"{split}: perplexity {ppl['model']:.1f} (unigram {ppl['unigram']:.1f}, "
            f"{ppl['unigram'] / ppl['model']:.2f}x better) over {scores['tokens']} tokens")


def default_prompt(vocab: Vocabulary) -> list[str]:
    return ["\n"] if "\n" in vocab.index else [vocab.tokens[1]]


def read_prompt(vocab: Vocabulary, text: str | None) -> tuple[list[str], list[str]]:
    """The prompt's tokens (a line break if ``text`` is None) and those outside the vocabulary.

    A character model refuses unknown characters (ValueError naming them); a word model
    reads unknown words as ``<unk>`` and the caller may say so.
    """
    prompt = default_prompt(vocab) if text is None else tokenize(text, vocab.level)
    if not prompt:
        raise ValueError("the prompt is empty; give at least one character or leave --prompt out")
    unknown = vocab.unknown(prompt)
    if unknown and vocab.level == "char":
        shown = ", ".join(repr(t) for t in unknown[:10])
        raise ValueError(f"the prompt has {len(unknown)} character(s) outside the model's vocabulary of "
                         f"{len(vocab) - 1} characters: {shown}")
    return prompt, unknown


def continuation(restored: Restored, prompt: list[str], length: int, *, temperature: float, top_k: int | None,
                 seed: int) -> str:
    """The prompt and ``length`` sampled tokens after it, as text (the same seed gives the same text)."""
    vocab = restored.transforms["vocab"]
    ids = vocab.encode(prompt)
    new = sample(restored.model, ids, length, temperature=temperature, top_k=top_k, seed=seed, exclude=(0,),
                 progress=True)
    return vocab.decode(torch.cat([ids, new]))


def report(trainer, built: Built) -> list[str]:
    """The validation scores (and xz's for characters), then a sample."""
    config, task, model = built.config, built.task, trainer.raw_model.cpu()
    scores = measure(model, task, "val")
    lines = [describe(scores, config.tokens, "validation, the whole text with the state carried through")]
    if config.tokens == "char":
        lines[0] += f"; xz -9: {xz_bits_per_char(built.extra['val_text']):.3f} bits/char on the same text"
    if config.sample_length:
        prompt = default_prompt(task.vocab)
        ids = sample(model, task.vocab.encode(prompt), config.sample_length, temperature=config.temperature,
                     seed=0, exclude=(0,))
        lines.append(f"sample (temperature {config.temperature}, seed 0):")
        lines.append(task.vocab.decode(torch.cat([task.vocab.encode(prompt), ids])).strip("\n"))
    return lines


def evaluate(restored: Restored, split: str, options: EvalOptions) -> list[str]:
    """``rnnkit eval``: the scores on the whole ``split`` part of the text the checkpoint was trained on."""
    config, vocab, model = restored.config, restored.transforms["vocab"], restored.model
    built = build(config)
    if built.task.vocab.tokens != vocab.tokens:
        raise ValueError(f"the text {config.text!r} has changed since training "
                         f"(its vocabulary differs from the checkpoint's)")
    a, b = built.task.bounds[split]
    line = describe(measure(model, built.task, split), config.tokens, split)
    if config.tokens == "char":
        line += f"; xz -9: {xz_bits_per_char(load_text(config)[a:b]):.3f} bits/char on the same text"
    return [line]

