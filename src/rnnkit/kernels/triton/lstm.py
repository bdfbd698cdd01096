"""LSTM (with projection, with or without layer norm) time loops as persistent Triton kernels.

The math and the buffers are the bptt engine's (:mod:`rnnkit.kernels.bptt.lstm`): gate rows in the
order (i, f, o, g); per step ``gates = Xp_t + W_hh h_{t-1}`` (with layer norm, each gate's
``W_hh h_{t-1}`` normalised and scaled by ``g_hh``), ``c_t = f c_{t-1} + i g``,
``m_t = o tanh(c_t)`` (``tanh(LN(c_t) g_c + b_c)`` with layer norm), ``h_t = m_t`` or ``W_hr m_t``.
See :mod:`.common`.
"""
from __future__ import annotations

import triton
import triton.language as tl

from rnnkit.kernels.triton.common import (BLOCK_B, accumulator, block, gate_backward, launch, layer_norm,
                                          layer_norm_backward, normalised, rows_times, sigmoid, slice_width, tanh, tile)


@triton.jit
def _gate(xp, w_hh, g_hh, prev, ah, mu, rs, j, gate, rows, live, cols, col_ok, B, H, R, LN: tl.constexpr,
          EPS: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    """One gate's pre-activation at step j: Xp_t + W_hh h (or + LN(W_hh h) g_hh, saving W_hh h, μ, 1/σ)."""
    ok = live[:, None] & col_ok[None, :]
    at = (j * B + rows)[:, None] * (4 * H) + gate * H + cols[None, :]
    a = rows_times(prev, R, rows, live, w_hh, R, 1, gate * H, H, R, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
    pre = tl.load(xp + at, mask=ok, other=0.0).to(ACC)
    if LN:
        tl.store(ah + at, a, mask=ok)
        xhat, mean, rstd = layer_norm(a, col_ok, H, EPS)
        tl.store(mu + (j * B + rows) * 4 + gate, mean, mask=live)
        tl.store(rs + (j * B + rows) * 4 + gate, rstd, mask=live)
        return pre + xhat * tl.load(g_hh + gate * H + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
    return pre + a


@triton.jit
def _forward(xp, w_hh, w_hr, g_hh, g_c, b_c, start, s, g, tc, c, m, y, ah, mu_h, rs_h, mu_c, rs_c, fin_h, fin_c,
             sizes, ends, steps, B, H, R, PROJ: tl.constexpr, LN: tl.constexpr, HAS_BC: tl.constexpr,
             EPS: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_R: tl.constexpr,
             BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    rows, cols, col_ok = tile(BLOCK_B, BLOCK_H, H)
    _, rcols, r_ok = tile(BLOCK_B, BLOCK_R, R)
    oh = rows[:, None] * H + cols[None, :]
    orr = rows[:, None] * R + rcols[None, :]
    o3 = rows[:, None] * (3 * H) + cols[None, :]
    for j in range(0, steps):
        live = rows < tl.load(sizes + j)
        ok = live[:, None] & col_ok[None, :]
        ok_r = live[:, None] & r_ok[None, :]
        ending = (rows >= tl.load(ends + j))[:, None]
        prev = start
        if j > 0:
            prev = y + (j - 1) * B * R
        si = sigmoid(_gate(xp, w_hh, g_hh, prev, ah, mu_h, rs_h, j, 0, rows, live, cols, col_ok, B, H, R, LN, EPS,
                           BLOCK_B, BLOCK_H, BLOCK_K, ACC))
        sf = sigmoid(_gate(xp, w_hh, g_hh, prev, ah, mu_h, rs_h, j, 1, rows, live, cols, col_ok, B, H, R, LN, EPS,
                           BLOCK_B, BLOCK_H, BLOCK_K, ACC))
        so = sigmoid(_gate(xp, w_hh, g_hh, prev, ah, mu_h, rs_h, j, 2, rows, live, cols, col_ok, B, H, R, LN, EPS,
                           BLOCK_B, BLOCK_H, BLOCK_K, ACC))
        gg = tanh(_gate(xp, w_hh, g_hh, prev, ah, mu_h, rs_h, j, 3, rows, live, cols, col_ok, B, H, R, LN, EPS,
                        BLOCK_B, BLOCK_H, BLOCK_K, ACC))
        tl.store(s + j * B * 3 * H + o3, si, mask=ok)
        tl.store(s + j * B * 3 * H + o3 + H, sf, mask=ok)
        tl.store(s + j * B * 3 * H + o3 + 2 * H, so, mask=ok)
        tl.store(g + j * B * H + oh, gg, mask=ok)
        cell = sf * tl.load(c + j * B * H + oh, mask=ok, other=0.0).to(ACC) + si * gg
        tl.store(c + (j + 1) * B * H + oh, cell, mask=ok)
        tl.store(fin_c + oh, cell, mask=ok & ending)
        if LN:
            chat, mean, rstd = layer_norm(cell, col_ok, H, EPS)
            tl.store(mu_c + j * B + rows, mean, mask=live)
            tl.store(rs_c + j * B + rows, rstd, mask=live)
            u = chat * tl.load(g_c + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
            if HAS_BC:
                u += tl.load(b_c + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
            t = tanh(u)
        else:
            t = tanh(cell)
        tl.store(tc + j * B * H + oh, t, mask=ok)
        if PROJ:
            tl.store(m + j * B * H + oh, so * t, mask=ok)
            tl.debug_barrier()  # the projection reads the whole row of m
            h = rows_times(m + j * B * H, H, rows, live, w_hr, H, 1, 0, R, H, BLOCK_B, BLOCK_R, BLOCK_K, ACC)
            tl.store(y + j * B * R + orr, h, mask=ok_r)
            tl.store(fin_h + orr, h, mask=ok_r & ending)
        else:
            tl.store(y + j * B * R + orr, so * t, mask=ok_r)
            tl.store(fin_h + orr, so * t, mask=ok_r & ending)
        tl.debug_barrier()  # this step's state is read by every thread at the next step


@triton.jit
def _backward(w_hh, w_hr, g_hh, g_c, s, g, tc, c, ah, mu_h, rs_h, mu_c, rs_c, dy, carry_h, carry_c, dg, dh_buf,
              da, dp, sizes, steps, B, H, R, PROJ: tl.constexpr, LN: tl.constexpr, BLOCK_B: tl.constexpr,
              BLOCK_H: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    rows, cols, col_ok = tile(BLOCK_B, BLOCK_H, H)
    _, rcols, r_ok = tile(BLOCK_B, BLOCK_R, R)
    oh = rows[:, None] * H + cols[None, :]
    orr = rows[:, None] * R + rcols[None, :]
    o3 = rows[:, None] * (3 * H) + cols[None, :]
    mine = (rows < B)[:, None]
    dh_c = tl.load(carry_h + orr, mask=mine & r_ok[None, :], other=0.0).to(ACC)
    dc_c = tl.load(carry_c + oh, mask=mine & col_ok[None, :], other=0.0).to(ACC)
    for i in range(0, steps):
        j = steps - 1 - i
        live = rows < tl.load(sizes + j)
        ok = live[:, None] & col_ok[None, :]
        dh = tl.load(dy + j * B * R + orr, mask=live[:, None] & r_ok[None, :], other=0.0).to(ACC) + dh_c
        if PROJ:
            tl.store(dh_buf + j * B * R + orr, dh, mask=live[:, None] & r_ok[None, :])
            tl.debug_barrier()  # dm = dh W_hr reads the whole row of dh
            dm = rows_times(dh_buf + j * B * R, R, rows, live, w_hr, 1, H, 0, H, R, BLOCK_B, BLOCK_H, BLOCK_K, ACC)
        else:
            dm = dh
        si = tl.load(s + j * B * 3 * H + o3, mask=ok, other=0.0).to(ACC)
        sf = tl.load(s + j * B * 3 * H + o3 + H, mask=ok, other=0.0).to(ACC)
        so = tl.load(s + j * B * 3 * H + o3 + 2 * H, mask=ok, other=0.0).to(ACC)
        gg = tl.load(g + j * B * H + oh, mask=ok, other=0.0).to(ACC)
        t = tl.load(tc + j * B * H + oh, mask=ok, other=0.0).to(ACC)
        dpre = dm * so * (1.0 - t * t)  # through tanh(c) (or tanh(LN(c) g_c + b_c))
        if LN:
            tl.store(dp + j * B * H + oh, dpre, mask=ok)
            rstd = tl.load(rs_c + j * B + rows, mask=live, other=0.0).to(ACC)
            chat = normalised(tl.load(c + (j + 1) * B * H + oh, mask=ok, other=0.0).to(ACC),
                              tl.load(mu_c + j * B + rows, mask=live, other=0.0).to(ACC), rstd, col_ok)
            gain = tl.load(g_c + cols, mask=col_ok, other=0.0).to(ACC)
            dc = dc_c + layer_norm_backward(dpre * gain[None, :], chat, rstd, col_ok, H)
        else:
            dc = dc_c + dpre
        c_prev = tl.load(c + j * B * H + oh, mask=ok, other=0.0).to(ACC)
        at = (dg, da, g_hh, ah, mu_h, rs_h, j)
        gate_backward(dc * gg * si * (1.0 - si), *at, 0, 4, rows, live, cols, col_ok, B, H, LN)
        gate_backward(dc * c_prev * sf * (1.0 - sf), *at, 1, 4, rows, live, cols, col_ok, B, H, LN)
        gate_backward(dm * t * so * (1.0 - so), *at, 2, 4, rows, live, cols, col_ok, B, H, LN)
        gate_backward(dc * si * (1.0 - gg * gg), *at, 3, 4, rows, live, cols, col_ok, B, H, LN)
        dc_c = tl.where(live[:, None], dc * sf, dc_c)
        src = dg
        if LN:
            src = da
        tl.debug_barrier()  # dh_{t-1} = d(W_hh h) W_hh reads every gate's whole row
        new = rows_times(src + j * B * 4 * H, 4 * H, rows, live, w_hh, 1, R, 0, R, 4 * H, BLOCK_B, BLOCK_R, BLOCK_K,
                         ACC)
        dh_c = tl.where(live[:, None], new, dh_c)
    tl.store(carry_h + orr, dh_c, mask=mine & r_ok[None, :])
    tl.store(carry_c + oh, dc_c, mask=mine & col_ok[None, :])


def forward(Xp, W_hh, W_hr, g_hh, g_c, b_c, h0, Y, bufs, sizes, ends, fin, eps: float) -> None:
    """One segment forward; the arguments are bptt's ``forward_loop``'s (``sizes``/``ends`` int32 tensors)."""
    S, G, TC, C, M, Ah, MUh, RSh, MUc, RSc = bufs
    k, B, GH = Xp.shape
    H = GH // 4
    R = h0.shape[1]
    proj, ln = W_hr is not None, Ah is not None
    dummy = Xp.new_empty(1)
    d = lambda t: dummy if t is None else t  # noqa: E731  (absent tensors: never read under their flags)
    opts = launch(B, max(H, R))
    _forward[opts["grid"]](
        Xp, W_hh, d(W_hr), d(g_hh), d(g_c), d(b_c), h0, S, G, TC, C, d(M), Y, d(Ah), d(MUh), d(RSh),
        d(MUc), d(RSc), fin[0], fin[1], sizes, ends, k, B, H, R, PROJ=proj, LN=ln, HAS_BC=b_c is not None, EPS=eps,
        BLOCK_B=BLOCK_B, BLOCK_H=block(H), BLOCK_R=block(R), BLOCK_K=slice_width(max(H, R), Xp.dtype),
        ACC=accumulator(Xp.dtype), num_warps=opts["num_warps"])


def backward(W_hh, W_hr, g_hh, g_c, saved, dY, carry, grads, sizes) -> None:
    """One segment backward; the arguments are bptt's ``backward_loop``'s; ``carry`` is updated in place."""
    S, G, TC, C, M, Ai, MUi, RSi, Ah, MUh, RSh, MUc, RSc = saved
    dG, DH, DA, DP = grads
    k, B, R = dY.shape
    H = G.shape[2]
    proj, ln = W_hr is not None, DA is not None
    dummy = dY.new_empty(1)
    d = lambda t: dummy if t is None else t  # noqa: E731
    opts = launch(B, max(H, R))
    _backward[opts["grid"]](
        W_hh, d(W_hr), d(g_hh), d(g_c), S, G, TC, C, d(Ah), d(MUh), d(RSh), d(MUc), d(RSc), dY, carry[0], carry[1],
        dG, d(DH), d(DA), d(DP), sizes, k, B, H, R, PROJ=proj, LN=ln, BLOCK_B=BLOCK_B, BLOCK_H=block(H),
        BLOCK_R=block(R), BLOCK_K=slice_width(max(H, R), dY.dtype), ACC=accumulator(dY.dtype),
        num_warps=opts["num_warps"])
