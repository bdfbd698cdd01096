"""Elman forward and hand-written backward for the bptt engine.

Per step: ``pre = Xp_t + W_hh h_{t-1}`` (``Xp_t = W_ih x_t + b`` for all t in one
matmul), ``h_t = act(pre)``. With layer norm the two products are normalised and
scaled by gains before the bias. The outputs are the states, so without layer norm
nothing else is saved.
"""
from __future__ import annotations

import torch

from rnnkit.kernels.bptt.driver import Recurrence, add_recurrent_grad, buffers, live, record_final, tanh_into
from rnnkit.kernels.bptt.norm import ln_backward, ln_forward


class ElmanRecurrence(Recurrence):
    def __init__(self, cell) -> None:
        self.H, self.ln, self.tanh = cell.hidden_size, cell.layer_norm, cell.nonlinearity == "tanh"

    def params(self, cell):
        b = cell.bias_ih + cell.bias_hh if cell.bias else None
        ln = (cell.ln_weight_ih, cell.ln_weight_hh) if self.ln else (None, None)
        return (cell.weight_ih, cell.weight_hh, b, *ln)

    def cell_tensors(self, P) -> dict:
        W_ih, W_hh, b, g_ih, g_hh = P
        named = {"weight_ih": W_ih, "weight_hh": W_hh}
        if b is not None:  # the cell adds b_ih and b_hh to the same sum
            named.update(bias_ih=b, bias_hh=torch.zeros_like(b))
        if self.ln:
            named.update(ln_weight_ih=g_ih, ln_weight_hh=g_hh)
        return named

    def forward_segment(self, P, x, start, Y, sizes, ends, fin):
        W_ih, W_hh, b, g_ih, g_hh = P
        k, B, I = x.shape
        H = self.H
        new = buffers(x, sizes)
        Xp = torch.mm(x.reshape(k * B, I), W_ih.t())  # (k*B, H): all input projections at once
        Ai = MUi = RSi = Ah = MUh = RSh = None  # with layer norm: W_ih x and W_hh h before it, μ, 1/σ
        if self.ln:
            Ai, MUi, RSi = Xp, new(k * B, 1), new(k * B, 1)
            Ah, MUh, RSh = new(k, B, H), new(k, B, 1), new(k, B, 1)
            Xp = self.norm_rows(Ai, g_ih, b, 1, MUi, RSi)  # LN(W_ih x) g_ih + b
        elif b is not None:
            Xp += b
        Xp = Xp.view(k, B, H)
        self.forward_loop(P, Xp, start, Y, (Ah, MUh, RSh), sizes, ends, fin)
        return (Ai, MUi, RSi, Ah, MUh, RSh), (Y[k - 1],)

    def forward_loop(self, P, Xp, start, Y, norm, sizes, ends, fin):
        """The time loop: ``Xp`` (k, B, H) becomes the pre-activations, ``Y`` the states; ``norm``
        (Ah, MUh, RSh) receive W_hh h before its layer norm, μ and 1/σ (all None without one)."""
        W_ih, W_hh, b, g_ih, g_hh = P
        Ah, MUh, RSh = norm
        k, B, _ = Xp.shape
        W_hhT = W_hh.t()
        Xs, Ys = Xp.unbind(0), Y.unbind(0)  # per-step views, made once
        if self.ln:
            Ahs, MUhs, RShs = Ah.unbind(0), MUh.unbind(0), RSh.unbind(0)
        h = start[0]
        for j in range(k):
            n = sizes[j]
            r = live(n, B)
            pre = r(Xs[j])
            if self.ln:  # pre = Xp_t + LN(W_hh h_{t-1}) g_hh, in place in Xp
                pre.addcmul_(ln_forward(torch.mm(r(h), W_hhT, out=r(Ahs[j])), 1, r(MUhs[j]), r(RShs[j])), g_hh)
            else:  # pre = Xp_t + W_hh h_{t-1}, in place in Xp
                pre.addmm_(r(h), W_hhT)
            h_new = tanh_into(pre, r(Ys[j])) if self.tanh else torch.clamp(pre, min=0, out=r(Ys[j]))
            record_final(fin, (h_new,), ends[j], n)
            h = Ys[j]

    def backward_segment(self, P, x, start, Y, saved, dY, carry, sizes, grads, need_dx, taps=None):
        W_ih, W_hh, b, g_ih, g_hh = P
        Ai, MUi, RSi, Ah, MUh, RSh = saved
        k, B, I = x.shape
        H = self.H
        new = buffers(x, sizes)
        dG = new(k, B, H)  # d pre-activations, zero where a sequence has ended
        DA = new(k, B, H) if self.ln else None  # d(W_hh h) before its layer norm
        self.backward_loop(P, Y, saved, dY, carry, dG, DA, sizes, taps)
        add_recurrent_grad(grads[1], DA if self.ln else dG, start[0], Y)  # dW_hh
        dG2 = dG.view(k * B, H)
        if b is not None:
            grads[2] += dG2.sum(0)  # db
        if self.ln:
            self.gain_grad(grads[4], dG, Ah, MUh, RSh, 1)  # d g_hh
            dG2 = self.norm_rows_backward(dG2, Ai, MUi, RSi, g_ih, grads[3], 1)  # through LN(W_ih x); d g_ih
        grads[0].addmm_(dG2.t(), x.reshape(k * B, I))  # dW_ih
        return torch.mm(dG2, W_ih).view(k, B, I) if need_dx else None  # dx = dpre W_ih

    def backward_loop(self, P, Y, saved, dY, carry, dG, DA, sizes, taps):
        """The reverse time loop: ``dG`` (k, B, H) receives d pre-activations, ``DA`` (with layer
        norm) d(W_hh h) before its norm, ``carry`` the state gradient walked back to the segment's start."""
        W_ih, W_hh, b, g_ih, g_hh = P
        Ai, MUi, RSi, Ah, MUh, RSh = saved
        k, B, H = Y.shape
        one = Y.new_ones(())
        (dh_c,) = carry
        dYs, dGs, Ys = dY.unbind(0), dG.unbind(0), Y.unbind(0)
        if self.ln:
            DAs, Ahs, MUhs, RShs = DA.unbind(0), Ah.unbind(0), MUh.unbind(0), RSh.unbind(0)
        for j in reversed(range(k)):
            n = sizes[j]
            r = live(n, B)
            h, dpre = r(Ys[j]), r(dGs[j])
            dh = r(dYs[j]) + r(dh_c)  # h_t feeds the output and step t+1
            if taps is not None:
                r(taps[0][j]).copy_(dh)  # the recorded dL/dh_t
            if self.tanh:
                torch.mul(dh, torch.addcmul(one, h, h, value=-1), out=dpre)  # tanh' = 1 - h²
            else:
                torch.mul(dh, h > 0, out=dpre)  # relu' = [h > 0]
            if self.ln:
                da = ln_backward(dpre * g_hh, r(Ahs[j]), r(MUhs[j]), r(RShs[j]), 1)  # through LN(W_hh h)
                r(DAs[j]).copy_(da)
                torch.mm(da, W_hh, out=r(dh_c))  # dh_{t-1} = da W_hh
            else:
                torch.mm(dpre, W_hh, out=r(dh_c))  # dh_{t-1} = dpre W_hh
