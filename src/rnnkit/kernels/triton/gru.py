"""GRU (reset-after, torch.nn's form; with or without layer norm) time loops as persistent Triton kernels.

The math and the buffers are the bptt engine's (:mod:`rnnkit.kernels.bptt.gru`): per step
``gh = W_hh h_{t-1} + b_hh`` (with layer norm, each gate's ``W_hh h_{t-1}`` normalised and scaled
by ``g_hh`` first), ``(r, z) = σ(Xp_t[:2H] + gh[:2H])``, ``n = tanh(Xp_t[2H:] + r gh[2H:])``,
``h_t = n + z (h_{t-1} - n)``. See :mod:`.common`.
"""
from __future__ import annotations

import triton
import triton.language as tl

from rnnkit.kernels.triton.common import (BLOCK_B, accumulator, block, gate_backward, launch, layer_norm,
                                          rows_times, sigmoid, slice_width, tanh, tile)


@triton.jit
def _hidden_part(w_hh, b_hh, g_hh, prev, gh, ah, mu, rs, j, gate, rows, live, cols, col_ok, B, H,
                 LN: tl.constexpr, HAS_BHH: tl.constexpr, EPS: tl.constexpr, BLOCK_B: tl.constexpr,
                 BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    """One gate's part of gh = W_hh h + b_hh (or LN(W_hh h) g_hh + b_hh) at step j, stored in gh."""
    ok = live[:, None] & col_ok[None, :]
    at = (j * B + rows)[:, None] * (3 * H) + gate * H + cols[None, :]
    a = rows_times(prev, H, rows, live, w_hh, H, 1, gate * H, H, H, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
    if LN:
        tl.store(ah + at, a, mask=ok)
        xhat, mean, rstd = layer_norm(a, col_ok, H, EPS)
        tl.store(mu + (j * B + rows) * 3 + gate, mean, mask=live)
        tl.store(rs + (j * B + rows) * 3 + gate, rstd, mask=live)
        a = xhat * tl.load(g_hh + gate * H + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
    if HAS_BHH:
        a += tl.load(b_hh + gate * H + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
    tl.store(gh + at, a, mask=ok)
    return a


@triton.jit
def _forward(xp, w_hh, b_hh, g_hh, start, y, rz, nn, gh, ah, mu, rs, fin, sizes, ends, steps, B, H,
             LN: tl.constexpr, HAS_BHH: tl.constexpr, EPS: tl.constexpr, BLOCK_B: tl.constexpr,
             BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    rows, cols, col_ok = tile(BLOCK_B, BLOCK_H, H)
    oh = rows[:, None] * H + cols[None, :]
    o2 = rows[:, None] * (2 * H) + cols[None, :]
    o3 = rows[:, None] * (3 * H) + cols[None, :]
    for j in range(0, steps):
        live = rows < tl.load(sizes + j)
        ok = live[:, None] & col_ok[None, :]
        prev = start
        if j > 0:
            prev = y + (j - 1) * B * H
        gh_r = _hidden_part(w_hh, b_hh, g_hh, prev, gh, ah, mu, rs, j, 0, rows, live, cols, col_ok, B, H, LN,
                            HAS_BHH, EPS, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
        gh_z = _hidden_part(w_hh, b_hh, g_hh, prev, gh, ah, mu, rs, j, 1, rows, live, cols, col_ok, B, H, LN,
                            HAS_BHH, EPS, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
        gh_n = _hidden_part(w_hh, b_hh, g_hh, prev, gh, ah, mu, rs, j, 2, rows, live, cols, col_ok, B, H, LN,
                            HAS_BHH, EPS, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
        x_at = xp + j * B * 3 * H + o3
        r = sigmoid(tl.load(x_at, mask=ok, other=0.0).to(ACC) + gh_r)
        z = sigmoid(tl.load(x_at + H, mask=ok, other=0.0).to(ACC) + gh_z)
        n = tanh(tl.load(x_at + 2 * H, mask=ok, other=0.0).to(ACC) + r * gh_n)
        tl.store(rz + j * B * 2 * H + o2, r, mask=ok)
        tl.store(rz + j * B * 2 * H + o2 + H, z, mask=ok)
        tl.store(nn + j * B * H + oh, n, mask=ok)
        hp = tl.load(prev + oh, mask=ok, other=0.0).to(ACC)
        h = n + z * (hp - n)
        tl.store(y + j * B * H + oh, h, mask=ok)
        tl.store(fin + oh, h, mask=ok & (rows >= tl.load(ends + j))[:, None])
        tl.debug_barrier()  # this step's state is read by every thread at the next step


@triton.jit
def _backward(w_hh, g_hh, y, start, rz, nn, gh, ah, mu, rs, dy, carry, dxp, dgh, da, sizes, steps, B, H,
              LN: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
              ACC: tl.constexpr):
    rows, cols, col_ok = tile(BLOCK_B, BLOCK_H, H)
    oh = rows[:, None] * H + cols[None, :]
    o2 = rows[:, None] * (2 * H) + cols[None, :]
    o3 = rows[:, None] * (3 * H) + cols[None, :]
    mine = (rows < B)[:, None] & col_ok[None, :]
    dh_c = tl.load(carry + oh, mask=mine, other=0.0).to(ACC)
    for i in range(0, steps):
        j = steps - 1 - i
        live = rows < tl.load(sizes + j)
        ok = live[:, None] & col_ok[None, :]
        prev = start
        if j > 0:
            prev = y + (j - 1) * B * H
        hp = tl.load(prev + oh, mask=ok, other=0.0).to(ACC)
        r = tl.load(rz + j * B * 2 * H + o2, mask=ok, other=0.0).to(ACC)
        z = tl.load(rz + j * B * 2 * H + o2 + H, mask=ok, other=0.0).to(ACC)
        n = tl.load(nn + j * B * H + oh, mask=ok, other=0.0).to(ACC)
        gh_n = tl.load(gh + j * B * 3 * H + o3 + 2 * H, mask=ok, other=0.0).to(ACC)
        dh = tl.load(dy + j * B * H + oh, mask=ok, other=0.0).to(ACC) + dh_c
        dhz = dh * z  # the direct path to h_{t-1}
        dnp = (dh - dhz) * (1.0 - n * n)  # d n_pre
        tl.store(dxp + j * B * 3 * H + o3 + 2 * H, dnp, mask=ok)
        at = (dgh, da, g_hh, ah, mu, rs, j)
        gate_backward(dnp * gh_n * r * (1.0 - r), *at, 0, 3, rows, live, cols, col_ok, B, H, LN)
        gate_backward(dh * (hp - n) * z * (1.0 - z), *at, 1, 3, rows, live, cols, col_ok, B, H, LN)
        gate_backward(dnp * r, *at, 2, 3, rows, live, cols, col_ok, B, H, LN)
        src = dgh
        if LN:
            src = da
        tl.debug_barrier()  # dh_{t-1} reads every gate's whole row
        new = dhz + rows_times(src + j * B * 3 * H, 3 * H, rows, live, w_hh, 1, H, 0, H, 3 * H, BLOCK_B, BLOCK_H,
                               BLOCK_K, ACC)
        dh_c = tl.where(live[:, None], new, dh_c)
    tl.store(carry + oh, dh_c, mask=mine)


def forward(Xp, W_hh, b_hh, g_hh, h0, Y, bufs, sizes, ends, fin, eps: float) -> None:
    """One segment forward; the arguments are bptt's ``forward_loop``'s (``sizes``/``ends`` int32 tensors)."""
    RZ, N, GH, Ah, MUh, RSh = bufs
    k, B, H = Y.shape
    ln = Ah is not None
    dummy = Xp.new_empty(1)
    d = lambda t: dummy if t is None else t  # noqa: E731  (absent tensors: never read under their flags)
    opts = launch(B, H)
    _forward[opts["grid"]](
        Xp, W_hh, d(b_hh), d(g_hh), h0, Y, RZ, N, GH, d(Ah), d(MUh), d(RSh), fin, sizes, ends, k, B, H, LN=ln,
        HAS_BHH=b_hh is not None, EPS=eps, BLOCK_B=BLOCK_B, BLOCK_H=block(H), BLOCK_K=slice_width(H, Xp.dtype),
        ACC=accumulator(Xp.dtype), num_warps=opts["num_warps"])


def backward(W_hh, g_hh, Y, h0, saved, dY, dh, dXp, dGH, DA, sizes) -> None:
    """One segment backward; the arguments are bptt's ``backward_loop``'s; ``dh`` is updated in place."""
    RZ, N, GH, Ai, MUi, RSi, Ah, MUh, RSh = saved
    k, B, H = Y.shape
    ln = DA is not None
    dummy = Y.new_empty(1)
    d = lambda t: dummy if t is None else t  # noqa: E731
    opts = launch(B, H)
    _backward[opts["grid"]](
        W_hh, d(g_hh), Y, h0, RZ, N, GH, d(Ah), d(MUh), d(RSh), dY, dh, dXp, dGH, d(DA), sizes, k, B, H, LN=ln,
        BLOCK_B=BLOCK_B, BLOCK_H=block(H), BLOCK_K=slice_width(H, Y.dtype), ACC=accumulator(Y.dtype),
        num_warps=opts["num_warps"])
