"""GRU (reset-after, torch.nn's form) forward and hand-written backward for the bptt engine.

Per step, with ``Xp_t = W_ih x_t + b_ih`` for all t in one matmul and
``gh = W_hh h_{t-1} + b_hh``:

    (r, z) = σ(Xp_t[:2H] + gh[:2H]);  n = tanh(Xp_t[2H:] + r gh[2H:]);  h_t = n + z (h_{t-1} - n)

With layer norm, ``W_ih x_t`` and ``W_hh h_{t-1}`` are normalised per gate and scaled by
gains before their biases.
"""
from __future__ import annotations

import torch

from rnnkit.kernels.bptt.driver import (Recurrence, add_recurrent_grad, buffers, gate_steps, live, record_final,
                                        tanh_into)
from rnnkit.kernels.bptt.norm import ln_backward, ln_forward


class GRURecurrence(Recurrence):
    def __init__(self, cell) -> None:
        self.H, self.ln = cell.hidden_size, cell.layer_norm

    def params(self, cell):
        ln = (cell.ln_weight_ih, cell.ln_weight_hh) if self.ln else (None, None)
        return (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, *ln)

    def cell_tensors(self, P) -> dict:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "ln_weight_ih", "ln_weight_hh")
        return {name: t for name, t in zip(names, P) if t is not None}

    def forward_segment(self, P, x, start, Y, sizes, ends, fin):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        k, B, I = x.shape
        H = self.H
        new = buffers(x, sizes)
        Xp = torch.mm(x.reshape(k * B, I), W_ih.t())  # (k*B, 3H): all input projections at once
        Ai = MUi = RSi = Ah = MUh = RSh = None  # with layer norm: W_ih x and W_hh h before it, μ, 1/σ
        if self.ln:
            Ai, MUi, RSi = Xp, new(k * B, 3), new(k * B, 3)
            Ah, MUh, RSh = new(k, B, 3 * H), new(k, B, 3), new(k, B, 3)
            Xp = self.norm_rows(Ai, g_ih, b_ih, 3, MUi, RSi)  # LN(W_ih x) g_ih + b_ih
        elif b_ih is not None:
            Xp += b_ih
        Xp = Xp.view(k, B, 3 * H)
        RZ, N, GH = new(k, B, 2 * H), new(k, B, H), new(k, B, 3 * H)  # σ(r, z), n, gh = W_hh h + b_hh
        self.forward_loop(P, Xp, start, Y, (RZ, N, GH, Ah, MUh, RSh), sizes, ends, fin)
        return (RZ, N, GH, Ai, MUi, RSi, Ah, MUh, RSh), (Y[k - 1],)

    def forward_loop(self, P, Xp, start, Y, bufs, sizes, ends, fin):
        """The time loop over ``Xp`` (k, B, 3H), the input part: ``Y`` receives the states, ``bufs`` σ(r, z), n,
        gh = W_hh h + b_hh, and with layer norm W_hh h before its norm, its μ and 1/σ."""
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        RZ, N, GH, Ah, MUh, RSh = bufs
        k, B, _ = Xp.shape
        H = self.H
        W_hhT = W_hh.t()
        # per-step views, made once: the loop below only indexes lists
        X_rz, X_n = Xp[..., :2 * H].unbind(0), Xp[..., 2 * H:].unbind(0)
        RZs, Ns, GHs, Ys = RZ.unbind(0), N.unbind(0), GH.unbind(0), Y.unbind(0)
        R_, Z_ = gate_steps(RZ, 2)
        GH_rz, GH_n = GH[..., :2 * H].unbind(0), GH[..., 2 * H:].unbind(0)
        if self.ln:
            Ahs, MUhs, RShs = Ah.unbind(0), MUh.unbind(0), RSh.unbind(0)
        h = start[0]
        for j in range(k):
            n_ = sizes[j]
            r = live(n_, B)
            hp, gh = r(h), r(GHs[j])
            if self.ln:  # gh = LN(W_hh h) g_hh + b_hh
                torch.mul(ln_forward(torch.mm(hp, W_hhT, out=r(Ahs[j])), 3, r(MUhs[j]), r(RShs[j])), g_hh, out=gh)
                if b_hh is not None:
                    gh += b_hh
            elif b_hh is None:
                torch.mm(hp, W_hhT, out=gh)  # (n, 3H)
            else:
                torch.addmm(b_hh, hp, W_hhT, out=gh)  # (n, 3H)
            torch.add(r(X_rz[j]), r(GH_rz[j]), out=r(RZs[j])).sigmoid_()  # (r, z)
            n = tanh_into(torch.addcmul(r(X_n[j]), r(R_[j]), r(GH_n[j])), r(Ns[j]))  # n = tanh(xn + r ghn)
            h_new = torch.lerp(n, hp, r(Z_[j]), out=r(Ys[j]))  # h = n + z (h_prev - n)
            record_final(fin, (h_new,), ends[j], n_)
            h = Ys[j]

    def backward_segment(self, P, x, start, Y, saved, dY, carry, sizes, grads, need_dx, taps=None):
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        RZ, N, GH, Ai, MUi, RSi, Ah, MUh, RSh = saved
        k, B, I = x.shape
        H = self.H
        new = buffers(x, sizes)
        dXp = new(k, B, 3 * H)  # d(Xp): (dr, dz, dn) pre-activations
        dGH = new(k, B, 3 * H)  # d gh: (dr, dz) pre-activations and d gh_n
        DA = new(k, B, 3 * H) if self.ln else None  # d(W_hh h) before its layer norm
        self.backward_loop(P, Y, start, saved, dY, carry, dXp, dGH, DA, sizes, taps)
        dXp[..., :2 * H] = dGH[..., :2 * H]  # r and z see x and h through the same sum
        add_recurrent_grad(grads[1], DA if self.ln else dGH, start[0], Y)  # dW_hh
        dGH = dGH.view(k * B, 3 * H)
        if b_hh is not None:
            grads[3] += dGH.sum(0)  # db_hh
        dX2 = dXp.view(k * B, 3 * H)
        if b_ih is not None:
            grads[2] += dX2.sum(0)  # db_ih
        if self.ln:
            self.gain_grad(grads[5], dGH, Ah, MUh, RSh, 3)  # d g_hh
            dX2 = self.norm_rows_backward(dX2, Ai, MUi, RSi, g_ih, grads[4], 3)  # through LN(W_ih x); d g_ih
        grads[0].addmm_(dX2.t(), x.reshape(k * B, I))  # dW_ih
        return torch.mm(dX2, W_ih).view(k, B, I) if need_dx else None  # dx = dXp W_ih

    def backward_loop(self, P, Y, start, saved, dY, carry, dXp, dGH, DA, sizes, taps):
        """The reverse time loop: ``dXp``'s n part (k, B, 3H) receives d n_pre, ``dGH`` the gradients of gh's
        parts (r and z pre-activations, gh_n), ``DA`` (layer norm) d(W_hh h) before its norm; ``carry`` the
        state gradient walked back to the segment's start."""
        W_ih, W_hh, b_ih, b_hh, g_ih, g_hh = P
        RZ, N, GH, Ai, MUi, RSi, Ah, MUh, RSh = saved
        k, B, H = Y.shape
        one = Y.new_ones(())
        (dh_c,) = carry
        dYs, dGHs, Ys = dY.unbind(0), dGH.unbind(0), Y.unbind(0)
        dRZ, dXn = dGH[..., :2 * H].unbind(0), dXp[..., 2 * H:].unbind(0)
        dR, dZ, dGHn = gate_steps(dGH, 3)
        RZs, Ns, GH_n = RZ.unbind(0), N.unbind(0), GH[..., 2 * H:].unbind(0)
        R_, Z_ = gate_steps(RZ, 2)
        if self.ln:
            DAs, Ahs, MUhs, RShs = DA.unbind(0), Ah.unbind(0), MUh.unbind(0), RSh.unbind(0)
        for j in reversed(range(k)):
            n_ = sizes[j]
            r = live(n_, B)
            hp = r(start[0] if j == 0 else Ys[j - 1])
            rz, n, z = r(RZs[j]), r(Ns[j]), r(Z_[j])
            dh = r(dYs[j]) + r(dh_c)  # h_t feeds the output and step t+1
            if taps is not None:
                r(taps[0][j]).copy_(dh)  # the recorded dL/dh_t
            torch.mul(dh, hp - n, out=r(dZ[j]))  # dz = dh (h_prev - n)
            dhz = dh * z  # h_t = ... + z h_{t-1}: the direct path to h_{t-1}
            dnp = torch.mul(dh - dhz, torch.addcmul(one, n, n, value=-1), out=r(dXn[j]))  # dn (1 - n²), dn = dh (1 - z)
            torch.mul(dnp, r(GH_n[j]), out=r(dR[j]))  # dr = dn_pre gh_n
            torch.mul(dnp, r(R_[j]), out=r(dGHn[j]))  # d gh_n = dn_pre r
            r(dRZ[j]).mul_(torch.addcmul(rz, rz, rz, value=-1))  # through σ: σ (1 - σ)
            dgh = r(dGHs[j])
            if self.ln:
                dgh = ln_backward(dgh * g_hh, r(Ahs[j]), r(MUhs[j]), r(RShs[j]), 3)  # through LN(W_hh h)
                r(DAs[j]).copy_(dgh)
            torch.addmm(dhz, dgh, W_hh, out=r(dh_c))  # dh_{t-1} = dh z + d(W_hh h) W_hh
