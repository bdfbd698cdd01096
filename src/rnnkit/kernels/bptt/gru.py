"""GRU (reset-after, torch.nn's form) forward and hand-written backward for the bptt engine.

Per step, with ``Xp_t = W_ih x_t + b_ih`` for all t in one matmul and
``gh = W_hh h_{t-1} + b_hh``:

    (r, z) = σ(Xp_t[:2H] + gh[:2H]);  n = tanh(Xp_t[2H:] + r gh[2H:]);  h_t = n + z (h_{t-1} - n)

With layer norm, ``W_ih x_t`` and ``W_hh h_{t-1}`` are normalised per gate and scaled by
gains before their biases.
"""
from __future__ import annotations

import torch

from rnnkit.kernels.bptt.driver import Recurrence, add_recurrent_grad, buffers, record_final, tanh_into
from rnnkit.kernels.bptt.norm import ln_backward, ln_forward


class GRURecurrence(Recurrence):
    def __init__(self, cell) -> None:
        self.H, self.ln = cell.hidden_size, cell.layer_norm

    def params(self, cell):
        ln = (cell.ln_weight_ih, cell.ln_weight_hh) if self.ln else (None, None)
        return (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, *ln)

    def init_grads(self, P):
        return [None if p is None else torch.zeros_like(p) for p in P]

    def forward_segment(self, P, x, start, Y, sizes, ends, fin):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        k, B, I = x.shape
        H = self.H
        new = buffers(x, sizes)
        Xp = torch.mm(x.reshape(k * B, I), W_ih.t())  # (k*B, 3H): all input projections at once
        XHi = RSi = XHh = RSh = None
        if self.ln:
            XHi, RSi, XHh, RSh = new(k * B, 3 * H), new(k * B, 3), new(k, B, 3 * H), new(k, B, 3)
            Xp = ln_forward(Xp, 3, XHi, RSi) * g_ih
        if b_ih is not None:
            Xp += b_ih
        Xp = Xp.view(k, B, 3 * H)
        RZ, N, GHn = new(k, B, 2 * H), new(k, B, H), new(k, B, H)  # σ(r, z), n, gh's n block
        W_hhT = W_hh.t()
        h = start[0]
        for j in range(k):
            n_ = sizes[j]
            hp = h[:n_]
            if self.ln:
                gh = ln_forward(torch.mm(hp, W_hhT), 3, XHh[j, :n_], RSh[j, :n_]) * g_hh
                if b_hh is not None:
                    gh += b_hh
            else:
                gh = torch.mm(hp, W_hhT) if b_hh is None else torch.addmm(b_hh, hp, W_hhT)  # (n, 3H)
            xp = Xp[j, :n_]
            rz = torch.sigmoid(xp[:, :2 * H] + gh[:, :2 * H], out=RZ[j, :n_])
            GHn[j, :n_] = gh[:, 2 * H:]
            n = tanh_into(torch.addcmul(xp[:, 2 * H:], rz[:, :H], gh[:, 2 * H:]), N[j, :n_])
            h_new = torch.addcmul(n, rz[:, H:], hp - n, out=Y[j, :n_])  # h = n + z (h_prev - n)
            record_final(fin, (h_new,), ends[j], n_)
            h = Y[j]
        return (RZ, N, GHn, XHi, RSi, XHh, RSh), (Y[k - 1],)

    def backward_segment(self, P, x, start, Y, saved, dY, carry, sizes, grads, need_dx):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        RZ, N, GHn, XHi, RSi, XHh, RSh = saved
        k, B, I = x.shape
        H = self.H
        one = x.new_ones(())
        new = buffers(x, sizes)
        dXp = new(k, B, 3 * H)  # d(Xp): (dr, dz, dn) pre-activations
        dGHn = new(k, B, H)  # d(gh[2H:])
        DA = new(k, B, 3 * H) if self.ln else None  # d(W_hh h) before its layer norm
        (dh_c,) = carry
        for j in reversed(range(k)):
            n_ = sizes[j]
            hp = start[0][:n_] if j == 0 else Y[j - 1, :n_]
            rz, n, ghn, dx_j = RZ[j, :n_], N[j, :n_], GHn[j, :n_], dXp[j, :n_]
            r, z = rz[:, :H], rz[:, H:]
            dh = dY[j, :n_] + dh_c[:n_]  # h_t feeds the output and step t+1
            torch.mul(dh, hp - n, out=dx_j[:, H:2 * H])  # dz = dh (h_prev - n)
            dn = dh - dh * z  # dn = dh (1 - z)
            dnp = torch.mul(dn, torch.addcmul(one, n, n, value=-1), out=dx_j[:, 2 * H:])  # through tanh: 1 - n²
            torch.mul(dnp, ghn, out=dx_j[:, :H])  # dr = dn_pre gh_n
            torch.mul(dnp, r, out=dGHn[j, :n_])  # d gh_n = dn_pre r
            dx_j[:, :2 * H].mul_(torch.addcmul(rz, rz, rz, value=-1))  # through σ: σ (1 - σ)
            dgh = torch.cat([dx_j[:, :2 * H], dGHn[j, :n_]], dim=1)  # (n, 3H) d gh
            if self.ln:
                da = ln_backward(dgh * g_hh, XHh[j, :n_], RSh[j, :n_], 3)  # through LN(W_hh h)
                DA[j, :n_] = da
                dgh = da
            torch.addmm(dh * z, dgh, W_hh, out=dh_c[:n_])  # dh_{t-1} = dh z + d(W_hh h) W_hh
        dGH = torch.cat([dXp[..., :2 * H], dGHn], dim=2)  # (k, B, 3H) d gh for every step
        add_recurrent_grad(grads[1], DA if self.ln else dGH, start[0], Y)  # dW_hh
        dGH = dGH.view(k * B, 3 * H)
        if b_hh is not None:
            grads[3] += dGH.sum(0)  # db_hh
        dX2 = dXp.view(k * B, 3 * H)
        if b_ih is not None:
            grads[2] += dX2.sum(0)  # db_ih
        if self.ln:
            grads[5] += (dGH * XHh.view(k * B, 3 * H)).sum(0)  # d g_hh
            grads[4] += (dX2 * XHi).sum(0)  # d g_ih
            dX2 = ln_backward(dX2 * g_ih, XHi, RSi, 3)  # through LN(W_ih x)
        grads[0].addmm_(dX2.t(), x.reshape(k * B, I))  # dW_ih
        return torch.mm(dX2, W_ih).view(k, B, I) if need_dx else None  # dx = dXp W_ih
