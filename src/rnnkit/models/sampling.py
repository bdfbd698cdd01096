r"""Sampling text from a language model: prompt, temperature, top-k, seed.

The prompt is run through the model once; then each next token is drawn from

.. math::  p_\tau(w) \propto \exp(z_w / \tau)\ \text{over the } k \text{ largest logits } z_w

and fed back. ``temperature`` :math:`\tau \to 0` approaches greedy decoding (``temperature=0``
is exactly greedy); ``top_k=None`` keeps the whole vocabulary. The draw uses its own
generator seeded by ``seed``: the same model, prompt and seed give the same text.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from tqdm import tqdm

from rnnkit._checks import check_size


@torch.no_grad()
def sample(model: nn.Module, prompt: torch.Tensor, length: int, *, temperature: float = 1.0,
           top_k: int | None = None, seed: int = 0, exclude: tuple = (), progress: bool = False) -> torch.Tensor:
    """``length`` new token ids ``(length,)`` continuing ``prompt`` ``(P,)`` (P >= 1) from ``model``, a
    :class:`~rnnkit.models.LanguageModel` (the prompt through ``forward``, then one ``step`` per token).

    ``exclude`` lists ids never drawn (for example ``<unk>``). ``progress``: a progress bar on stderr
    when it is a terminal.
    """
    check_size("sample", "length", length, minimum=0)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not 0 <= temperature < math.inf:
        raise ValueError(f"sample: expected a finite temperature >= 0, got {temperature!r}")
    if top_k is not None:
        check_size("sample", "top_k", top_k)
    if prompt.dim() != 1 or prompt.numel() < 1:
        raise ValueError(f"sample: expected a prompt of shape (P,) with P >= 1, got shape {tuple(prompt.shape)}")
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    logits, state = model(prompt[:, None], None)  # (P, 1, V)
    last = logits[-1, 0]  # (V,)
    out = []
    for _ in tqdm(range(length), desc="sampling", unit="tok", disable=None if progress else True, leave=False):
        z = last.double().clone()
        if exclude:
            z[list(exclude)] = -torch.inf
        if top_k is not None and top_k < z.numel():
            kth = torch.topk(z, top_k).values[-1]
            z[z < kth] = -torch.inf
        if temperature == 0:
            token = int(z.argmax())
        else:
            token = int(torch.multinomial(torch.softmax(z / temperature, dim=0), 1, generator=gen))
        out.append(token)
        logits, state = model.step(torch.tensor([token]), state)  # (1, V): one token, the state carried
        last = logits[0]
    model.train(was_training)
    return torch.tensor(out, dtype=torch.long)
