"""The native engine: torch's own fused recurrent kernels (oneDNN or ATen on CPU, cuDNN on GPU).

It serves exactly what those kernels compute: the built-in Elman, LSTM (with or
without projection) and GRU cells without layer norm, in float32 or float64 (and the
half types on GPU). ``run`` has the reference engine's signature and meaning.
"""
from __future__ import annotations

import warnings

import torch
from torch import _VF
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit._state import State
from rnnkit.cells.base import runs_as
from rnnkit.kernels.reference import reverse_time, working_dtype

CELLS = (LSTMCell, GRUCell, ElmanCell)


def unsupported(cell, dtype: torch.dtype) -> str | None:
    """Why torch's fused kernels cannot run ``cell`` on ``dtype``, or None if they can."""
    base = next((c for c in CELLS if isinstance(cell, c)), None)
    if base is None or not runs_as(cell, base):
        return f"torch's fused kernels compute ElmanCell, LSTMCell and GRUCell only, not {type(cell).__name__}"
    if cell.layer_norm:
        return "torch's fused kernels have no layer norm"
    allowed = (torch.float32, torch.float64) if cell.weight_ih.device.type == "cpu" else \
        (torch.float32, torch.float64, torch.float16, torch.bfloat16)
    if dtype not in allowed:
        return f"torch's fused kernels run {', '.join(map(str, allowed))} here, not {dtype}"
    return None


def _kernel(cell):
    if isinstance(cell, LSTMCell):
        return _VF.lstm
    if isinstance(cell, GRUCell):
        return _VF.gru
    return _VF.rnn_tanh if cell.nonlinearity == "tanh" else _VF.rnn_relu


def run(cell, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None,
        reverse: bool = False) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) with torch's fused kernel for one layer and direction (under autocast
    a layer's input may come in autocast's dtype: torch's kernel casts, as in torch.nn)."""
    reason = unsupported(cell, working_dtype(cell, x))
    if reason is not None:
        raise ValueError(f"engine 'native' cannot run this request: {reason}")
    T = x.shape[0]
    if lengths is not None and bool((lengths == T).all()):
        lengths = None
    weights = [cell.weight_ih, cell.weight_hh]
    if cell.bias:
        weights += [cell.bias_ih, cell.bias_hh]
    if getattr(cell, "proj_size", 0):
        weights.append(cell.weight_hr)
    is_lstm = isinstance(cell, LSTMCell)
    hx = tuple(s.unsqueeze(0) for s in state) if is_lstm else state.unsqueeze(0)  # (1, B, ·): one layer
    kernel, train = _kernel(cell), torch.is_grad_enabled()
    if reverse:
        x = reverse_time(x, lengths)
    with warnings.catch_warnings():
        # torch says, once, that oneDNN has no projected LSTM and its own loop runs instead: a note about
        # its internals that reads like an error and asks nothing of the user (the numbers are the same)
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        out, final = _call(kernel, x, hx, weights, cell.bias, train, lengths, is_lstm, T)
    if reverse:
        out = reverse_time(out, lengths)
    final = [f.squeeze(0) for f in final]  # (1, B, ·) -> (B, ·)
    return out, (tuple(final) if is_lstm else final[0])


def _call(kernel, x, hx, weights, bias: bool, train: bool, lengths, is_lstm: bool, T: int):
    """One layer and direction through torch's kernel: padded, or packed when sequences have lengths."""
    if lengths is None:
        out, *final = kernel(x, hx, weights, bias, 1, 0.0, train, False, False)
    else:
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        order, inverse = packed.sorted_indices, packed.unsorted_indices
        hx = tuple(h.index_select(1, order) for h in hx) if is_lstm else hx.index_select(1, order)
        data, *final = kernel(packed.data, packed.batch_sizes, hx, weights, bias, 1, 0.0, train, False)
        out, _ = pad_packed_sequence(
            packed._replace(data=data), total_length=T)  # (T, B, Y) in the caller's batch order
        final = [f.index_select(1, inverse) for f in final]
    return out, final
