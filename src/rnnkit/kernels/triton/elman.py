"""Elman (tanh/ReLU, with or without layer norm) time loops as persistent Triton kernels.

The math and the buffers are the bptt engine's (:mod:`rnnkit.kernels.bptt.elman`): per step
``pre = Xp_t + W_hh h_{t-1}`` (with layer norm ``Xp_t + LN(W_hh h_{t-1}) g_hh``), ``h_t = act(pre)``;
backward ``dpre = dh act'``, ``dh_{t-1} = dpre W_hh`` (through LN first). See :mod:`.common`.
"""
from __future__ import annotations

import triton
import triton.language as tl

from rnnkit.kernels.triton.common import (BLOCK_B, accumulator, block, launch, layer_norm, layer_norm_backward,
                                          normalised, rows_times, slice_width, tanh, tile)


@triton.jit
def _forward(xp, w_hh, g_hh, start, y, ah, mu, rs, fin, sizes, ends, steps, B, H, TANH: tl.constexpr,
             LN: tl.constexpr, EPS: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr,
             BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    rows, cols, col_ok = tile(BLOCK_B, BLOCK_H, H)
    off = rows[:, None] * H + cols[None, :]
    for j in range(0, steps):
        n = tl.load(sizes + j)
        live = rows < n
        ok = live[:, None] & col_ok[None, :]
        prev = start
        if j > 0:
            prev = y + (j - 1) * B * H
        a = rows_times(prev, H, rows, live, w_hh, H, 1, 0, H, H, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
        pre = tl.load(xp + j * B * H + off, mask=ok, other=0.0).to(ACC)
        if LN:
            tl.store(ah + j * B * H + off, a, mask=ok)
            xhat, mean, rstd = layer_norm(a, col_ok, H, EPS)
            tl.store(mu + j * B + rows, mean, mask=live)
            tl.store(rs + j * B + rows, rstd, mask=live)
            pre += xhat * tl.load(g_hh + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
        else:
            pre += a
        if TANH:
            h = tanh(pre)
        else:
            h = tl.maximum(pre, 0.0)
        tl.store(y + j * B * H + off, h, mask=ok)
        ending = ok & (rows >= tl.load(ends + j))[:, None]
        tl.store(fin + off, h, mask=ending)
        tl.debug_barrier()  # this step's state is read by every thread at the next step


@triton.jit
def _backward(w_hh, g_hh, y, ah, mu, rs, dy, carry, dg, da, sizes, steps, B, H, TANH: tl.constexpr,
              LN: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
              ACC: tl.constexpr):
    rows, cols, col_ok = tile(BLOCK_B, BLOCK_H, H)
    off = rows[:, None] * H + cols[None, :]
    mine = (rows < B)[:, None] & col_ok[None, :]
    dh_c = tl.load(carry + off, mask=mine, other=0.0).to(ACC)
    for i in range(0, steps):
        j = steps - 1 - i
        live = rows < tl.load(sizes + j)
        ok = live[:, None] & col_ok[None, :]
        h = tl.load(y + j * B * H + off, mask=ok, other=0.0).to(ACC)
        dh = tl.load(dy + j * B * H + off, mask=ok, other=0.0).to(ACC) + dh_c
        if TANH:
            dpre = dh * (1.0 - h * h)
        else:
            dpre = tl.where(h > 0.0, dh, 0.0)
        tl.store(dg + j * B * H + off, dpre, mask=ok)
        src = dg
        if LN:
            a = tl.load(ah + j * B * H + off, mask=ok, other=0.0).to(ACC)
            rstd = tl.load(rs + j * B + rows, mask=live, other=0.0).to(ACC)
            xhat = normalised(a, tl.load(mu + j * B + rows, mask=live, other=0.0).to(ACC), rstd, col_ok)
            g = tl.load(g_hh + cols, mask=col_ok, other=0.0).to(ACC)
            tl.store(da + j * B * H + off, layer_norm_backward(dpre * g[None, :], xhat, rstd, col_ok, H), mask=ok)
            src = da
        tl.debug_barrier()  # the whole row of d(W_hh h) is read back by every thread
        new = rows_times(src + j * B * H, H, rows, live, w_hh, 1, H, 0, H, H, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
        dh_c = tl.where(live[:, None], new, dh_c)
    tl.store(carry + off, dh_c, mask=mine)


def forward(Xp, W_hh, g_hh, h0, Y, Ah, MUh, RSh, sizes, ends, fin, tanh: bool, eps: float) -> None:
    """One segment forward; the arguments are bptt's ``forward_loop``'s (``sizes``/``ends`` int32 tensors)."""
    k, B, H = Xp.shape
    ln = Ah is not None
    dummy = Xp.new_empty(1)
    _forward[launch(B, H)["grid"]](
        Xp, W_hh, g_hh if ln else dummy, h0, Y, Ah if ln else dummy, MUh if ln else dummy, RSh if ln else dummy,
        fin, sizes, ends, k, B, H, TANH=tanh, LN=ln, EPS=eps, BLOCK_B=BLOCK_B, BLOCK_H=block(H),
        BLOCK_K=slice_width(H, Xp.dtype), ACC=accumulator(Xp.dtype), num_warps=launch(B, H)["num_warps"])


def backward(W_hh, g_hh, Y, Ah, MUh, RSh, dY, dh, dG, DA, sizes, tanh: bool) -> None:
    """One segment backward; the arguments are bptt's ``backward_loop``'s; ``dh`` is updated in place."""
    k, B, H = Y.shape
    ln = DA is not None
    dummy = Y.new_empty(1)
    _backward[launch(B, H)["grid"]](
        W_hh, g_hh if ln else dummy, Y, Ah if ln else dummy, MUh if ln else dummy, RSh if ln else dummy, dY, dh,
        dG, DA if ln else dummy, sizes, k, B, H, TANH=tanh, LN=ln, BLOCK_B=BLOCK_B, BLOCK_H=block(H),
        BLOCK_K=slice_width(H, Y.dtype), ACC=accumulator(Y.dtype), num_warps=launch(B, H)["num_warps"])

