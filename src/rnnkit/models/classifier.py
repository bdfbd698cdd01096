r"""A sequence classifier for variable-length batches: recurrent stack, pooling over time, linear.

.. math::

    h_{1..T_b} = \mathrm{RNN}(x_{1..T_b}),\qquad
    v_b = \begin{cases} [\overrightarrow{h}_{T_b};\ \overleftarrow{h}_1] & \text{pooling = "last" (final states)}\\
                        \frac{1}{T_b}\sum_{t \le T_b} h_t & \text{pooling = "mean"}\end{cases},\qquad
    \mathrm{logits}_b = W_o v_b + b_o

Each sequence b is read up to its own length :math:`T_b`; with ``bidirectional=True``
the backward direction starts at :math:`T_b`, not at the padding. Shapes: x (T, B, I),
lengths (B,) -> logits (B, C); v has D*H entries (D = 2 if bidirectional).
"""
from __future__ import annotations

import torch
from torch import nn

from rnnkit._checks import check_choice, check_size
from rnnkit.models.sequence import CELLS, recurrent_layer

POOLING = ("last", "mean")


class SequenceClassifier(nn.Module):
    """Recurrent stack (uni- or bidirectional), final-state or mean pooling, linear read-out over C classes.

    Example::

        >>> clf = SequenceClassifier(3, 32, 10, bidirectional=True)
        >>> clf(torch.randn(42, 8, 3), lengths=torch.randint(16, 43, (8,))).shape
        torch.Size([8, 10])
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int, num_layers: int = 1, *,
                 cell: str = "lstm", bidirectional: bool = False, pooling: str = "last", engine: str = "auto",
                 init=None) -> None:
        super().__init__()
        check_size("SequenceClassifier", "num_classes", num_classes, minimum=2)
        self.pooling = check_choice("SequenceClassifier", "pooling", pooling, POOLING)
        check_choice("SequenceClassifier", "cell", cell, CELLS)
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, bidirectional=bidirectional,
                                   engine=engine, init=init)
        self.directions = 2 if bidirectional else 1
        self.head = nn.Linear(self.directions * hidden_size, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x (T, B, I) zero-padded, lengths (B,) (None: all T) -> logits (B, C)."""
        T, B = x.shape[:2]
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        out, h_n = self.rnn(x, lengths=lengths)  # out (T, B, D*H) zero past each end
        if self.pooling == "mean":
            pooled = out.sum(dim=0) / lengths.to(out.dtype)[:, None]  # (B, D*H)
        else:
            h = h_n[0] if isinstance(h_n, tuple) else h_n  # (L*D, B, H)
            pooled = torch.cat(list(h[-self.directions:]), dim=-1)  # (B, D*H): last layer, every direction
        return self.head(pooled)


class LengthsFromMask(nn.Module):
    """The Trainer's ``model(x, state, resets) -> (output, state)`` around a classifier.

    The last channel of x (T, B, I + 1) is the step mask of :class:`~rnnkit.data.sequences.ClassifyTask`;
    its column sums are the lengths. Returns (logits (B, C), None): nothing to carry.
    """

    def __init__(self, classifier: SequenceClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor, state=None, resets=None):
        lengths = x[..., -1].sum(dim=0).round().long()  # (B,)
        return self.classifier(x[..., :-1], lengths), None
