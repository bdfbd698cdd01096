r"""What the recurrent Triton kernels (``elman.py``, ``lstm.py``, ``gru.py``) share.

Each kernel is *persistent*: one program owns ``BLOCK_B`` rows of the (length-sorted)
batch and walks every time step of a segment itself, so a whole segment is one launch
instead of 7-15 launches per step. The input projection of the whole segment is one
large product before the launch and every weight gradient one large product after it
(the bptt driver, :mod:`rnnkit.kernels.bptt.driver`); a step inside the kernel is

- the recurrent product, as a loop over ``BLOCK_K``-wide slices of the previous state
  (read back from the step's output row, which stays in L1/L2) against the matching
  slices of ``W_hh`` (:func:`rows_times`), accumulated in float32 (float64 for float64);
- every pointwise operation of the cell on the whole hidden width at once, layer norm's
  row statistics included, in registers;
- a block barrier, so the next step reads this step's state from every thread.

Rows that have ended (``rows >= sizes[t]``) are masked: nothing is written for them,
their carried gradients are kept, and a row's final state is written at its last step.
"""
from __future__ import annotations

import os

import triton
import triton.language as tl

BLOCK_B = 16  # batch rows per program: tl.dot's smallest M
MIN_BLOCK = 16  # tl.dot's smallest N and K
# Triton's CPU interpreter multiplies bfloat16 tiles wrongly (numpy has no bfloat16; measured with Triton 3.9:
# errors of 1e10 where float16 is exact), so there the products take their operands in the accumulator's
# dtype. On a GPU bfloat16 and float16 tiles go to the tensor cores as they are.
UPCAST_PRODUCTS = tl.constexpr(os.environ.get("TRITON_INTERPRET") == "1")


@triton.jit
def tile(BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr, N):
    """This program's batch rows, the columns of a row, and which of them are real (< N)."""
    cols = tl.arange(0, BLOCK_N)
    return tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B), cols, cols < N


@triton.jit
def rows_times(src, src_stride, rows, row_ok, w, w_n, w_k, n0, N, K, BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    """``out[b, n] = Σ_k src[rows[b], k] · W(k, n0 + n)`` for n < N, W(k, n) at ``w + n w_n + k w_k``:
    (BLOCK_B, BLOCK_N) in ``ACC``; rows not ``row_ok`` and columns from N on come out 0."""
    cols = tl.arange(0, BLOCK_N)
    col_ok = cols < N
    acc = tl.zeros((BLOCK_B, BLOCK_N), dtype=ACC)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        a = tl.load(src + rows[:, None] * src_stride + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(w + (n0 + cols)[None, :] * w_n + ks[:, None] * w_k, mask=col_ok[None, :] & k_ok[:, None],
                    other=0.0)
        if UPCAST_PRODUCTS:
            a, b = a.to(ACC), b.to(ACC)
        acc = tl.dot(a, b, acc, input_precision="ieee")
    return acc


@triton.jit
def sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def tanh(x):
    """``2 σ(2x) - 1``: exact to rounding in absolute terms, in every dtype, interpreter included."""
    return 2.0 / (1.0 + tl.exp(-2.0 * x)) - 1.0


@triton.jit
def layer_norm(a, col_ok, H, EPS: tl.constexpr):
    """``(â, μ, 1/σ)`` of rows ``a`` (BLOCK_B, BLOCK_H) over their first H columns (â is 0 past them)."""
    mean = tl.sum(tl.where(col_ok[None, :], a, 0.0), axis=1) / H
    d = tl.where(col_ok[None, :], a - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=1) / H + EPS)
    return d * rstd[:, None], mean, rstd


@triton.jit
def normalised(a, mean, rstd, col_ok):
    """``â`` recomputed from the saved ``a``, μ and 1/σ."""
    return tl.where(col_ok[None, :], (a - mean[:, None]) * rstd[:, None], 0.0)


@triton.jit
def layer_norm_backward(dxhat, xhat, rstd, col_ok, H):
    """``da = (dâ - mean(dâ) - â mean(dâ ⊙ â)) / σ`` over the first H columns."""
    dxhat = tl.where(col_ok[None, :], dxhat, 0.0)
    m1 = tl.sum(dxhat, axis=1) / H
    m2 = tl.sum(dxhat * xhat, axis=1) / H
    return tl.where(col_ok[None, :], (dxhat - m1[:, None] - xhat * m2[:, None]) * rstd[:, None], 0.0)


@triton.jit
def gate_backward(dgate, dg, da, g_hh, ah, mu, rs, j, gate, G: tl.constexpr, rows, live, cols, col_ok, B, H,
                  LN: tl.constexpr):
    """Store the gradient of gate ``gate`` (of G) of a step's recurrent part into ``dg`` (rows of G*H) and, with
    layer norm, the gradient of its ``W_hh h`` before the norm into ``da``, from the saved ``ah``, μ and 1/σ."""
    ok = live[:, None] & col_ok[None, :]
    at = (j * B + rows)[:, None] * (G * H) + gate * H + cols[None, :]
    tl.store(dg + at, dgate, mask=ok)
    if LN:
        rstd = tl.load(rs + (j * B + rows) * G + gate, mask=live, other=0.0).to(dgate.dtype)
        mean = tl.load(mu + (j * B + rows) * G + gate, mask=live, other=0.0).to(dgate.dtype)
        xhat = normalised(tl.load(ah + at, mask=ok, other=0.0).to(dgate.dtype), mean, rstd, col_ok)
        gain = tl.load(g_hh + gate * H + cols, mask=col_ok, other=0.0).to(dgate.dtype)
        tl.store(da + at, layer_norm_backward(dgate * gain[None, :], xhat, rstd, col_ok, H), mask=ok)


def block(n: int) -> int:
    """The power-of-two width (at least tl.dot's 16) that covers ``n`` columns."""
    return max(MIN_BLOCK, triton.next_power_of_2(max(1, n)))


def slice_width(width: int, dtype) -> int:
    """``BLOCK_K``, the slice of the inner dimension per tl.dot, for products ``width`` columns wide: 32, or 16
    where a (32, width) slice of ``W_hh`` would pass 2 KiB per row pair (float32 at H = 1,024 needed 266 KB of
    shared memory at 32, more than an H100's 227 KB; compiled for sm_90 without a GPU, see RESULTS.md)."""
    return 32 if block(width) * dtype.itemsize <= 2048 else MIN_BLOCK


def launch(rows: int, width: int) -> dict:
    """Grid and launch options for ``rows`` batch rows and a widest row of ``width`` columns."""
    warps = 4 if width <= 128 else 8 if width <= 512 else 16
    return {"grid": (triton.cdiv(rows, BLOCK_B),), "num_warps": warps}


def accumulator(dtype) -> tl.dtype:
    """What the kernels accumulate and compute in: float64 for float64, float32 otherwise."""
    import torch

    return tl.float64 if dtype == torch.float64 else tl.float32
