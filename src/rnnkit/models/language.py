r"""A recurrent language model: embedding, recurrent stack, linear read-out.

.. math::

    e_t = E\,[w_t],\qquad h_t = \mathrm{RNN}(e_t, h_{t-1}),\qquad
    p(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(W_o\,\mathrm{drop}(h_t) + b_o)

With ``tie_weights=True`` the read-out reuses the embedding, ``W_o = E`` (Press & Wolf
2017), which needs the embedding size to equal the layer's output size.

Shapes: ids (T, B) or (T, B, 1) int64 -> logits (T, B, V); the state is the layer's
``hx`` ((L, B, H) for RNN/GRU, a pair for LSTM). ``resets`` (T, B) bool zeroes a
sample's state just before step t, as in :class:`~rnnkit.models.SequenceModel`.
"""
from __future__ import annotations

import torch
from torch import nn

from rnnkit._checks import check_choice, check_probability, check_size
from rnnkit.models.sequence import CELLS, SequenceModel


class LanguageModel(nn.Module):
    """Embedding -> ``rnnkit.RNN``/``LSTM``/``GRU`` stack -> linear over the vocabulary.

    Args:
        vocab_size: V. embed_size: E. hidden_size: H. num_layers: L.
        cell: one of ``CELLS``: ``"rnn"`` (tanh), ``"relu"``, ``"lstm"``, ``"gru"``, ``"mingru"`` or ``"minlstm"``.
        dropout: dropout on the embeddings, between layers and before the read-out.
        tie_weights: share the embedding matrix with the read-out (needs E == H).
        engine, init: passed to the layer.

    Example::

        >>> lm = LanguageModel(65, 32, 128)
        >>> logits, state = lm(torch.randint(65, (50, 4)))   # logits (50, 4, 65)
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 1, *,
                 cell: str = "lstm", dropout: float = 0.0, tie_weights: bool = False, engine: str = "auto",
                 init=None) -> None:
        super().__init__()
        check_size("LanguageModel", "vocab_size", vocab_size, minimum=2)
        check_size("LanguageModel", "embed_size", embed_size)
        check_choice("LanguageModel", "cell", cell, CELLS)
        check_probability("LanguageModel", "dropout", dropout)
        if tie_weights and embed_size != hidden_size:
            raise ValueError(f"LanguageModel: tie_weights needs embed_size == hidden_size, "
                             f"got embed_size={embed_size}, hidden_size={hidden_size}")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.drop = nn.Dropout(dropout)
        # the recurrent stack and its reset handling are SequenceModel's; its per-step head becomes the
        # identity (built first all the same, so a seed gives the weights it always gave)
        self.body = SequenceModel(cell, embed_size, hidden_size, 1, num_layers, engine=engine, init=init)
        self.body.head = nn.Identity()
        self.body.rnn.dropout = dropout if num_layers > 1 else 0.0  # between stacked layers
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor, state=None, resets: torch.Tensor | None = None):
        """ids (T, B) or (T, B, 1) int64, state or None, resets (T, B) -> (logits (T, B, V), state)."""
        if ids.dim() == 3 and ids.shape[-1] == 1:
            ids = ids[..., 0]  # (T, B)
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"LanguageModel: expected int64 ids of shape (T, B) or (T, B, 1), "
                             f"got {ids.dtype} of shape {tuple(ids.shape)}")
        x = self.drop(self.embed(ids))  # (T, B, E)
        out, state = self.body(x, state, resets)  # (T, B, H): the body's read-out is the identity
        return self.head(self.drop(out)), state  # (T, B, V)

    def step(self, ids: torch.Tensor, state=None):
        """One token per sequence: ids (B,) int64 and the state -> (logits (B, V), state); stepping
        through a text gives what ``forward`` over it gives (how :func:`sample` and ``rnnkit generate`` run)."""
        logits, state = self(ids.reshape(1, -1), state)
        return logits[0], state


@torch.no_grad()
def evaluate_nats(model: nn.Module, ids: torch.Tensor, *, lanes: int = 16, length: int = 256) -> float:
    """Mean cross-entropy (nats per token) of predicting ``ids[1:]`` from ``ids[:-1]``, state carried throughout.

    ``ids`` (N,) is cut into ``lanes`` contiguous lanes read side by side in chunks of
    ``length`` steps; each lane's state runs on from chunk to chunk, so every token but
    the first of each lane is predicted from all the text before it in its lane. The
    last ``(N - 1) mod lanes`` tokens, fewer than ``lanes``, are left out.
    """
    was_training = model.training
    model.eval()
    n = (ids.numel() - 1) // lanes  # tokens per lane
    if n < 1:
        lanes, n = 1, ids.numel() - 1
    x = ids[:lanes * n].view(lanes, n).T  # (n, lanes)
    y = ids[1:lanes * n + 1].view(lanes, n).T  # (n, lanes)
    total, state = 0.0, None
    for start in range(0, n, length):
        logits, state = model(x[start:start + length], state)  # (t, lanes, V)
        total += float(nn.functional.cross_entropy(logits.flatten(0, 1), y[start:start + length].flatten(),
                                                   reduction="sum"))
    model.train(was_training)
    return total / (lanes * n)
