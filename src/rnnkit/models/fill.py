r"""A fill-in-the-blank model: one bidirectional recurrent layer, three heads over its two directions.

The forward direction at step t has read ``x_0 .. x_t`` and the backward one
``x_t .. x_{T-1}``. The word at t is predicted from the state *before* it in each
direction, so no head ever sees the word it predicts:

.. math::  \text{left}_t = D\, W_l\, \overrightarrow{h}_{t-1},\quad
           \text{right}_t = D\, W_r\, \overleftarrow{h}_{t+1},\quad
           \text{both}_t = D\, W_b\, [\overrightarrow{h}_{t-1}; \overleftarrow{h}_{t+1}]

(zero states beyond the ends), each head projecting to E and sharing one decoder D (E -> V): the
decoder is most of the model's work, so three heads cost little more than one. The left head is a
left-to-right language model, the right head a right-to-left one, and the both head the masked-word
predictor; trained together (the loss of :class:`rnnkit.data.blanks.FillTask` is their mean), each is
scored on its own.
"""
from __future__ import annotations

import torch
from torch import nn

from rnnkit._checks import check_choice, check_probability, check_size
from rnnkit.models.sequence import CELLS, recurrent_layer


class FillModel(nn.Module):
    """Embedding, a bidirectional recurrent stack, the left / right / both heads and their shared decoder.

    Args:
        vocab_size: V. embed_size: E. hidden_size: H per direction. num_layers: L.
        cell: one of ``CELLS``. dropout: on the embeddings and before the heads. engine, init: the layer's.

    Shapes: ``forward`` x (T, B, 1) or (T, B) ids -> (logits (T, B, 3, V), state) where the state is
    an empty tensor: a window is read whole, both ways, so no state carries to the next one.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 1, *,
                 cell: str = "lstm", dropout: float = 0.0, engine: str = "auto", init=None) -> None:
        super().__init__()
        check_size("FillModel", "vocab_size", vocab_size, minimum=2)
        check_size("FillModel", "embed_size", embed_size)
        check_choice("FillModel", "cell", cell, CELLS)
        check_probability("FillModel", "dropout", dropout)
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = recurrent_layer(cell, embed_size, hidden_size, num_layers, bidirectional=True, engine=engine,
                                   init=init)
        self.drop = nn.Dropout(dropout)
        self.left = nn.Linear(hidden_size, embed_size)
        self.right = nn.Linear(hidden_size, embed_size)
        self.both = nn.Linear(2 * hidden_size, embed_size)
        self.decoder = nn.Linear(embed_size, vocab_size)
        self.hidden_size = hidden_size

    def forward(self, x: torch.Tensor, state=None, resets=None):
        if state is not None or resets is not None:
            raise ValueError("FillModel reads each window whole, both ways: it cannot continue a state or reset "
                             "inside a window (train it with full BPTT: leave --tbptt unset)")
        ids = x[..., 0] if x.dim() == 3 else x  # (T, B)
        out, _ = self.rnn(self.drop(self.embed(ids)))  # (T, B, 2H): forward half, then backward half
        H = self.hidden_size
        zero = out.new_zeros(1, *out.shape[1:-1], H)
        before = torch.cat([zero, out[:-1, :, :H]])  # (T, B, H): forward state after x_(t-1)
        after = torch.cat([out[1:, :, H:], zero])  # (T, B, H): backward state after x_(t+1)
        before, after = self.drop(before), self.drop(after)
        heads = torch.stack([self.left(before), self.right(after), self.both(torch.cat([before, after], -1))],
                            dim=2)  # (T, B, 3, E)
        return self.decoder(heads), out.new_zeros(0)  # (T, B, 3, V)
