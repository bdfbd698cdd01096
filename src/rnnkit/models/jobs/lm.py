"""``--task lm``: a character- or word-level language model on the bundled Shakespeare or any UTF-8 text.

After training it reports, on the whole validation text with the state carried through:
the model's bits per character (char level) or perplexity (word level) beside a unigram
model fitted on the training part, and for characters ``xz -9``'s bits per character
(LZMA preset 9) on exactly the same text; then it prints a sample.
"""
from __future__ import annotations

import lzma
import math
import sys
from dataclasses import asdict, dataclass

import torch

from rnnkit.data.datasets import shakespeare
from rnnkit.data.text import LEVELS, TextTask, Vocabulary, read_text, tokenize, unigram_nats
from rnnkit.models.jobs import Built, check_config, load_weights, restore_config
from rnnkit.models.language import LanguageModel, evaluate_nats
from rnnkit.models.sampling import sample

NAME = "lm"
BUNDLED_TEXT = "shakespeare"
TRAIN_DEFAULTS = {"lr": 0.002, "eval_every": 250, "eval_batches": 8, "checkpoint_every": 250, "max_minutes": 10.0}


@dataclass(frozen=True)
class Config:
    """A language model run: the text, its tokens, the model."""

    text: str = BUNDLED_TEXT  # lm: a UTF-8 text file, or "shakespeare" for the bundled corpus
    tokens: str = "char"  # lm: "char" or "word" tokens
    max_vocab: int = 5000  # lm: at most this many tokens (<unk> included); rarer ones become <unk>
    min_count: int = 1  # lm: a token seen fewer times in the training part becomes <unk>
    val_fraction: float = 0.1  # share of the data (just before the test part, or drawn at random) for validation
    test_fraction: float = 0.05  # share of the data (the last part, or drawn at random) held out for testing
    length: int = 128  # T: tokens per training window (BPTT length, or use --tbptt)
    batch_size: int = 32  # windows per batch
    data_seed: int = 0  # seed of the windows' positions
    cell: str = "lstm"  # "rnn" (tanh), "lstm" or "gru"
    embed_size: int = 64  # lm: E, the token embedding size
    hidden_size: int = 256  # H
    num_layers: int = 1  # stacked recurrent layers
    dropout: float = 0.0  # lm: dropout on embeddings, between layers and before the read-out
    tie_weights: bool = False  # lm: share the embedding with the read-out (needs embed_size == hidden_size)
    engine: str = "auto"  # engine name, one of rnnkit.kernels.ENGINE_NAMES
    init: str = "default"  # initialisation name, one of rnnkit.init.INIT_NAMES
    sample_length: int = 400  # lm: tokens generated after training (0: none)
    temperature: float = 0.8  # lm: sampling temperature of that sample

    def __post_init__(self) -> None:
        check_config(self)
        if self.tokens not in LEVELS:
            raise ValueError(f"--tokens: expected one of {', '.join(LEVELS)}, got {self.tokens!r}")


def load_text(config: Config) -> str:
    return shakespeare() if config.text == BUNDLED_TEXT else read_text(config.text)


def make_model(config: Config, vocab_size: int) -> LanguageModel:
    return LanguageModel(vocab_size, config.embed_size, config.hidden_size, config.num_layers, cell=config.cell,
                         dropout=config.dropout, tie_weights=config.tie_weights, engine=config.engine,
                         init=None if config.init == "default" else config.init)


def build(config: Config) -> Built:
    """Read and split the text, build the vocabulary on the training part, and the model."""
    text = load_text(config)
    tokens = tokenize(text, config.tokens)
    n = len(tokens)
    n_train = n - int(n * config.val_fraction) - int(n * config.test_fraction)
    vocab = Vocabulary.build(tokens[:n_train], config.tokens, config.max_vocab, config.min_count)
    task = TextTask(vocab.encode(tokens), vocab, config.length, config.batch_size, config.data_seed,
                    config.val_fraction, config.test_fraction)
    model = make_model(config, len(vocab))
    run_fields = {"job": asdict(config), "task_tokens": config.tokens, "task_vocab": list(vocab.tokens),
                  "model_cell": config.cell, "model_embed_size": config.embed_size,
                  "model_hidden_size": config.hidden_size, "model_num_layers": config.num_layers,
                  "model_tie_weights": config.tie_weights}
    a, b = task.bounds["val"]
    extra = {"val_text": "".join(tokens[a:b]) if config.tokens == "char" else None}
    return Built(config, task, model, run_fields, extra)


def restore(ckpt: dict, path):
    """``(config, vocab, model)`` from an ``lm`` checkpoint, without the text it was trained on."""
    config = restore_config(sys.modules[__name__], ckpt, path)
    vocab = Vocabulary(tuple(ckpt["config"]["task_vocab"]), config.tokens)
    model = make_model(config, len(vocab))
    load_weights(model, ckpt, path)
    return config, vocab, model


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


def report(trainer, built: Built) -> list[str]:
    """The validation scores (and xz's for characters), then a sample."""
    config, task, model = built.config, built.task, trainer.raw_model.cpu()
    scores = measure(model, task, "val")
    lines = [describe(scores, config.tokens, "validation")]
    if config.tokens == "char":
        lines[0] += f"; xz -9: {xz_bits_per_char(built.extra['val_text']):.3f} bits/char on the same text"
    if config.sample_length:
        prompt = default_prompt(task.vocab)
        ids = sample(model, task.vocab.encode(prompt), config.sample_length, temperature=config.temperature,
                     seed=0, exclude=(0,))
        lines.append(f"sample (temperature {config.temperature}, seed 0):")
        lines.append(task.vocab.decode(torch.cat([task.vocab.encode(prompt), ids])).strip("\n"))
    return lines


def evaluate(ckpt: dict, path, split: str) -> list[str]:
    """``rnnkit eval``: the scores on the whole ``split`` part of the text the checkpoint was trained on."""
    from rnnkit.train import CheckpointError

    config, vocab, model = restore(ckpt, path)
    built = build(config)
    if built.task.vocab.tokens != vocab.tokens:
        raise CheckpointError(f"checkpoint {path}: the text {config.text!r} has changed since training "
                              f"(its vocabulary differs from the checkpoint's)")
    a, b = built.task.bounds[split]
    line = describe(measure(model, built.task, split), config.tokens, split)
    if config.tokens == "char":
        line += f"; xz -9: {xz_bits_per_char(load_text(config)[a:b]):.3f} bits/char on the same text"
    return [line]
