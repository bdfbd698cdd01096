"""Layer normalisation of gate pre-activations (Ba, Kiros & Hinton 2016).

Each gate's H pre-activations are normalised on their own (zero mean, unit variance
over H), then scaled by a learned gain; the shift is the cell's own bias.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


def gate_norm(pre: torch.Tensor, gain: torch.Tensor, gates: int) -> torch.Tensor:
    """LN over each gate block: ``pre`` (B, G*H) -> (B, G*H), times ``gain`` (G*H,)."""
    B = pre.shape[0]
    # (B, G*H) -> (B, G, H): normalise over H within each gate
    normed = F.layer_norm(pre.reshape(B, gates, -1), (pre.shape[1] // gates,), eps=EPS)
    return normed.reshape(B, -1) * gain


def make_gain(size: int, factory: dict) -> nn.Parameter:
    return nn.Parameter(torch.ones(size, **factory))
