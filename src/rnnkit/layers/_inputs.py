"""Input handling at the layer boundary: padded, packed, unbatched, batch_first, lengths.

Everything is converted once to time-major ``(T, B, I)`` plus optional ``lengths``;
:func:`finish_output` converts the output back to the caller's format.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit._checks import ShapeError, check_tensor


@dataclass
class Prepared:
    x: torch.Tensor  # (T, B, I), time-major
    lengths: torch.Tensor | None  # (B,) int64 on the CPU, or None: every sequence has T steps
    unbatched: bool  # the caller gave (T, I)
    packed: PackedSequence | None  # the caller's PackedSequence, to pack the output alike


def check_lengths(owner: str, lengths, T: int, B: int) -> torch.Tensor:
    """``lengths`` as a (B,) int64 CPU tensor with every entry in [1, T]."""
    if isinstance(lengths, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
            raise TypeError(f"{owner}: expected lengths to hold ints, got {lengths!r}")
        lengths = torch.tensor(lengths, dtype=torch.int64)
    if not isinstance(lengths, torch.Tensor):
        raise TypeError(f"{owner}: expected lengths as a 1-D int tensor or a list of ints, got {type(lengths).__name__}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"{owner}: expected lengths of an integer dtype, got {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != B:
        raise ValueError(f"{owner}: expected lengths of shape ({B},), one per sequence in the batch, "
                         f"got shape {tuple(lengths.shape)}")
    lengths = lengths.detach().to("cpu", torch.int64)
    if B and int(lengths.min()) < 1:
        raise ValueError(f"{owner}: expected every length >= 1, got {int(lengths.min())} in lengths")
    if B and int(lengths.max()) > T:
        raise ValueError(f"{owner}: expected every length <= T={T} (the input's time steps), "
                         f"got {int(lengths.max())} in lengths")
    return lengths


def prepare_input(owner: str, input, lengths, batch_first: bool, input_size: int) -> Prepared:
    """Validate ``input`` (and ``lengths``) and return it time-major."""
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ValueError(f"{owner}: lengths must be None for a PackedSequence input, which carries its own")
        x, seq_lengths = pad_packed_sequence(input)  # (T, B, I) in the caller's batch order
        prep = Prepared(x, seq_lengths.to(torch.int64), False, input)
    else:
        check_tensor(owner, "input", input)
        if input.dim() not in (2, 3):
            layout = "(B, T, I)" if batch_first else "(T, B, I)"
            raise ValueError(f"{owner}: expected input with 3 dims {layout} or 2 dims (T, I), "
                             f"got shape {tuple(input.shape)}")
        unbatched = input.dim() == 2
        if unbatched:
            x = input.unsqueeze(1)  # (T, I) -> (T, 1, I)
        else:
            x = input.transpose(0, 1) if batch_first else input  # (B, T, I) -> (T, B, I)
        if lengths is not None:
            if unbatched:
                raise ValueError(f"{owner}: lengths must be None for an unbatched (T, I) input")
            lengths = check_lengths(owner, lengths, x.shape[0], x.shape[1])
        prep = Prepared(x, lengths, unbatched, None)
    if prep.x.shape[-1] != input_size:
        raise ShapeError(f"{owner}: expected input with {input_size} features (input_size) in its last dim, "
                         f"got {prep.x.shape[-1]} (input shape {tuple(prep.x.shape)} time-major)")
    if not prep.x.dtype.is_floating_point:
        raise TypeError(f"{owner}: expected a floating-point input, got {prep.x.dtype}")
    if prep.x.shape[0] == 0:
        raise ValueError(f"{owner}: expected at least one time step, got an input with T=0")
    return prep


def finish_output(prep: Prepared, out: torch.Tensor, batch_first: bool):
    """Convert ``out`` (T, B, F) back to the caller's format."""
    if prep.packed is not None:
        order = prep.packed.sorted_indices
        if order is None:  # the caller packed sorted sequences
            sorted_out, sorted_lengths = out, prep.lengths
        else:
            sorted_out = out.index_select(1, order.to(out.device))  # (T, B, F) in the packed order
            sorted_lengths = prep.lengths[order.cpu()]
        data = pack_padded_sequence(sorted_out, sorted_lengths, enforce_sorted=True).data
        return PackedSequence(data, prep.packed.batch_sizes, prep.packed.sorted_indices, prep.packed.unsorted_indices)
    if prep.unbatched:
        return out.squeeze(1)  # (T, 1, F) -> (T, F)
    return out.transpose(0, 1) if batch_first else out  # (T, B, F) -> (B, T, F)
