r"""The linear scan ``h_t = a_t ⊙ h_{t-1} + b_t`` as one Triton kernel.

Each program owns ``BLOCK_N`` lanes (of the B*H flattened state) and walks time in
chunks of ``BLOCK_T`` steps: inside a chunk, ``tl.associative_scan`` with the composition
of affine maps ``(a1, b1) then (a2, b2) = (a1 a2, a2 b1 + b2)`` gives every state
relative to the chunk's start in parallel; the carried state then enters as
``h = B + A h_start``. The sequential chain is T / BLOCK_T chunks long instead of T.
``REVERSE`` runs from t = T - 1 down to 0 by index arithmetic (no flipped copies).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_T = 32  # steps scanned in parallel per chunk
BLOCK_N = 32  # lanes per program


@triton.jit
def _compose(a1, b1, a2, b2):
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _scan_kernel(a_ptr, b_ptr, h0_ptr, out_ptr, T, N, REVERSE: tl.constexpr, BLOCK_T: tl.constexpr,
                 BLOCK_N: tl.constexpr):
    lanes = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)  # (BLOCK_N,)
    lane_ok = lanes < N
    h = tl.load(h0_ptr + lanes, mask=lane_ok, other=0.0)  # (BLOCK_N,)
    steps = tl.arange(0, BLOCK_T)  # (BLOCK_T,)
    for start in range(0, T, BLOCK_T):
        t = start + steps
        if REVERSE:
            t_index = T - 1 - t
        else:
            t_index = t
        ok = (t < T)[:, None] & lane_ok[None, :]  # (BLOCK_T, BLOCK_N)
        offsets = t_index.to(tl.int64)[:, None] * N + lanes[None, :]  # 64-bit: T*N may pass 2^31
        a = tl.load(a_ptr + offsets, mask=ok, other=1.0)  # steps past the end hold the state
        b = tl.load(b_ptr + offsets, mask=ok, other=0.0)
        prod, local = tl.associative_scan((a, b), 0, _compose)  # relative to the chunk's start
        states = local + prod * h[None, :]
        tl.store(out_ptr + offsets, states, mask=ok)
        h = tl.sum(tl.where((steps == BLOCK_T - 1)[:, None], states, 0.0), axis=0)  # the chunk's last state


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """Every state (T, *S) from ``a``, ``b`` (T, *S) and ``h0`` (*S), on the tensors' device."""
    T = a.shape[0]
    a, b = a.contiguous(), b.contiguous()
    h0 = h0.to(a.dtype).contiguous()
    N = h0.numel()
    out = torch.empty_like(b)
    if T == 0 or N == 0:
        return out
    grid = (triton.cdiv(N, BLOCK_N),)
    _scan_kernel[grid](a, b, h0, out, T, N, REVERSE=reverse, BLOCK_T=BLOCK_T, BLOCK_N=BLOCK_N)
    return out
