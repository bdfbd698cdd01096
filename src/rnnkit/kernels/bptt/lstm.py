"""LSTM forward and hand-written backward for the bptt engine.

Gate rows are reordered once per call from torch.nn's (i, f, g, o) to (i, f, o, g), so
the three sigmoid gates form one contiguous block. Per step, with ``σ`` the sigmoid:

    gates = Xp_t + W_hh h_{t-1}           (Xp_t = W_ih x_t + b, for all t in one matmul)
    s = σ(gates[:3H]) = (i, f, o);  g = tanh(gates[3H:])
    c_t = f c_{t-1} + i g;  m_t = o tanh(c_t);  h_t = m_t  (or W_hr m_t with a projection)

With layer norm, ``W_ih x_t`` and ``W_hh h_{t-1}`` are normalised per gate and scaled
by gains before the bias, and ``tanh(c_t)`` becomes ``tanh(LN(c_t) g_c + b_c)``.
"""
from __future__ import annotations

import torch

from rnnkit.kernels.bptt.driver import (Recurrence, add_recurrent_grad, buffers, gate_steps, live, record_final,
                                        tanh_into)
from rnnkit.kernels.bptt.norm import ln_backward, ln_forward


def _perm(H: int, device) -> torch.Tensor:
    """Row order (i, f, o, g) from torch.nn's (i, f, g, o)."""
    idx = torch.arange(4 * H, device=device).view(4, H)
    return idx[[0, 1, 3, 2]].reshape(-1)


class LSTMRecurrence(Recurrence):
    state_count = 2

    def __init__(self, cell) -> None:
        self.H, self.proj, self.ln = cell.hidden_size, bool(cell.proj_size), cell.layer_norm

    def params(self, cell):
        p = _perm(self.H, cell.weight_ih.device)
        b = cell.bias_ih + cell.bias_hh if cell.bias else None
        ln = (cell.ln_weight_ih[p], cell.ln_weight_hh[p], cell.ln_weight_c, cell.ln_bias_c) if self.ln \
            else (None, None, None, None)
        return (cell.weight_ih[p], cell.weight_hh[p], None if b is None else b[p], cell.weight_hr, *ln)

    def cell_tensors(self, P) -> dict:
        p = _perm(self.H, P[0].device)  # its own inverse: swaps the g and o blocks back
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        named = {"weight_ih": W_ih[p], "weight_hh": W_hh[p], "weight_hr": W_hr, "ln_weight_c": g_c, "ln_bias_c": b_c,
                 "ln_weight_ih": None if g_ih is None else g_ih[p], "ln_weight_hh": None if g_hh is None else g_hh[p]}
        if b is not None:  # the cell adds b_ih and b_hh to the same sum
            named.update(bias_ih=b[p], bias_hh=torch.zeros_like(b))
        return {name: t for name, t in named.items() if t is not None}

    def new_states(self, saved, Y):
        return Y, saved[3][1:]  # h_t, and c_t from C (k+1, B, H) without c before the segment

    def forward_segment(self, P, x, start, Y, sizes, ends, fin):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        k, B, I = x.shape
        H = self.H
        new = buffers(x, sizes)
        # input projection of the whole segment in one matrix product: (k*B, I) @ (I, 4H)
        Xp = torch.mm(x.reshape(k * B, I), W_ih.t())
        Ai = MUi = RSi = None  # W_ih x before its layer norm, μ, 1/σ
        if self.ln:
            Ai, MUi, RSi = Xp, new(k * B, 4), new(k * B, 4)
            Xp = self.norm_rows(Ai, g_ih, b, 4, MUi, RSi)  # LN(W_ih x) g_ih + b
        elif b is not None:
            Xp += b
        Xp = Xp.view(k, B, 4 * H)
        S, G, TC = new(k, B, 3 * H), new(k, B, H), new(k, B, H)  # σ(i, f, o), tanh(g), tanh(c) or tanh(LN c)
        C = new(k + 1, B, H)  # C[j] = c before step j
        C[0] = start[1]
        M = new(k, B, H) if self.proj else None  # m_t = o tanh(.) before the projection
        # with layer norm: W_hh h before its norm with μ, 1/σ; μ, 1/σ of c (c itself is in C)
        Ah, MUh, RSh, MUc, RSc = (new(k, B, 4 * H), new(k, B, 4), new(k, B, 4), new(k, B, 1), new(k, B, 1)) \
            if self.ln else (None,) * 5
        self.forward_loop(P, Xp, start, Y, (S, G, TC, C, M, Ah, MUh, RSh, MUc, RSc), sizes, ends, fin)
        saved = (S, G, TC, C, M, Ai, MUi, RSi, Ah, MUh, RSh, MUc, RSc)
        return saved, (Y[k - 1], C[k])

    def forward_loop(self, P, Xp, start, Y, bufs, sizes, ends, fin):
        """The time loop: ``Xp`` (k, B, 4H) becomes the gate pre-activations, ``Y`` the outputs; ``bufs``
        receive σ(i, f, o), tanh(g), tanh(c) (or of LN c), c (C[0] is set), m (with a projection), and with
        layer norm W_hh h before its norm, its μ and 1/σ, and c's μ and 1/σ."""
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, Ah, MUh, RSh, MUc, RSc = bufs
        k, B, _ = Xp.shape
        H = self.H
        W_hhT, W_hrT = W_hh.t(), None if W_hr is None else W_hr.t()
        # per-step views, made once: the loop below only indexes lists
        Xs, X_sig, X_tan = Xp.unbind(0), Xp[..., :3 * H].unbind(0), Xp[..., 3 * H:].unbind(0)
        Ss, Gs, TCs, Cs, Ys = S.unbind(0), G.unbind(0), TC.unbind(0), C.unbind(0), Y.unbind(0)
        Si, Sf, So = gate_steps(S, 3)
        if self.proj:
            Ms = M.unbind(0)
        if self.ln:
            Ahs, MUhs, RShs, MUcs, RScs = Ah.unbind(0), MUh.unbind(0), RSh.unbind(0), MUc.unbind(0), RSc.unbind(0)
        h = start[0]
        for j in range(k):
            n = sizes[j]
            r = live(n, B)
            if self.ln:  # gates = Xp_t + LN(W_hh h_{t-1}) g_hh, in place in Xp
                a = torch.mm(r(h), W_hhT, out=r(Ahs[j]))
                r(Xs[j]).addcmul_(ln_forward(a, 4, r(MUhs[j]), r(RShs[j])), g_hh)
            else:  # gates = Xp_t + W_hh h_{t-1}, in place in Xp
                r(Xs[j]).addmm_(r(h), W_hhT)
            torch.sigmoid(r(X_sig[j]), out=r(Ss[j]))  # (i, f, o)
            g = tanh_into(r(X_tan[j]), r(Gs[j]))
            c = torch.mul(r(Sf[j]), r(Cs[j]), out=r(Cs[j + 1])).addcmul_(r(Si[j]), g)  # c = f c_prev + i g
            if self.ln:
                ch = ln_forward(c, 1, r(MUcs[j]), r(RScs[j]))
                tc = tanh_into(ch * g_c if b_c is None else torch.addcmul(b_c, ch, g_c), r(TCs[j]))
            else:
                tc = tanh_into(c, r(TCs[j]))
            if self.proj:
                m = torch.mul(r(So[j]), tc, out=r(Ms[j]))
                h_new = torch.mm(m, W_hrT, out=r(Ys[j]))  # h = W_hr m
            else:
                h_new = torch.mul(r(So[j]), tc, out=r(Ys[j]))  # h = o tanh(c)
            record_final(fin, (h_new, c), ends[j], n)
            h = Ys[j]

    def backward_segment(self, P, x, start, Y, saved, dY, carry, sizes, grads, need_dx, taps=None):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, Ai, MUi, RSi, Ah, MUh, RSh, MUc, RSc = saved
        k, B, I = x.shape
        H, R = self.H, Y.shape[2]
        new = buffers(x, sizes)
        dG = new(k, B, 4 * H)  # d gate pre-activations (i, f, o, g), zero where a sequence has ended
        DH = new(k, B, R) if self.proj else None  # dh, for dW_hr
        DA = new(k, B, 4 * H) if self.ln else None  # d(W_hh h) before its layer norm
        DP = new(k, B, H) if self.ln else None  # d(LN(c) g_c + b_c)
        self.backward_loop(P, Y, saved, dY, carry, dG, DH, DA, DP, sizes, taps)
        return self._segment_grads(P, x, start, Y, saved, dG, DH, DA, DP, grads, need_dx)

    def backward_loop(self, P, Y, saved, dY, carry, dG, DH, DA, DP, sizes, taps):
        """The reverse time loop: ``dG`` (k, B, 4H) receives the gate pre-activation gradients, ``DH`` dh
        (projection), ``DA`` and ``DP`` (layer norm) d(W_hh h) before its norm and d(LN(c) g_c + b_c);
        ``carry`` the state gradients walked back to the segment's start."""
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, Ai, MUi, RSi, Ah, MUh, RSh, MUc, RSc = saved
        k, B, R = Y.shape
        H = self.H
        one = Y.new_ones(())
        dh_c, dc_c = carry
        dYs, dGs, dSig = dY.unbind(0), dG.unbind(0), dG[..., :3 * H].unbind(0)
        dI, dF, dO, dGg = gate_steps(dG, 4)
        Ss, Gs, TCs, Cs = S.unbind(0), G.unbind(0), TC.unbind(0), C.unbind(0)
        Si, Sf, So = gate_steps(S, 3)
        if self.proj:
            DHs = DH.unbind(0)
        if self.ln:
            DAs, DPs, Ahs, MUhs, RShs, MUcs, RScs = (DA.unbind(0), DP.unbind(0), Ah.unbind(0), MUh.unbind(0),
                                                     RSh.unbind(0), MUc.unbind(0), RSc.unbind(0))
        for j in reversed(range(k)):
            n = sizes[j]
            r = live(n, B)
            s, g, tc = r(Ss[j]), r(Gs[j]), r(TCs[j])
            dh = r(dYs[j]) + r(dh_c)  # h_t feeds the output and step t+1
            if self.proj:
                r(DHs[j]).copy_(dh)
                dm = torch.mm(dh, W_hr)  # h = W_hr m
            else:
                dm = dh
            torch.mul(dm, tc, out=r(dO[j]))  # do = dm tanh(c)
            dpre = torch.addcmul(one, tc, tc, value=-1).mul_(r(So[j])).mul_(dm)  # d(tanh input) = dm o (1 - tanh²)
            if self.ln:
                r(DPs[j]).copy_(dpre)
                dc = r(dc_c) + ln_backward(dpre * g_c, r(Cs[j + 1]), r(MUcs[j]), r(RScs[j]), 1)  # through LN(c)
            else:
                dc = r(dc_c) + dpre  # c_t feeds tanh(c_t) and step t+1
            if taps is not None:  # the recorded dL/dh_t and dL/dc_t
                r(taps[0][j]).copy_(dh)
                r(taps[1][j]).copy_(dc)
            torch.mul(dc, g, out=r(dI[j]))  # di = dc g
            torch.mul(dc, r(Cs[j]), out=r(dF[j]))  # df = dc c_{t-1}
            dgg = dc * r(Si[j])  # dg = dc i
            torch.mul(dc, r(Sf[j]), out=r(dc_c))  # dc_{t-1} = dc f
            r(dSig[j]).mul_(torch.addcmul(s, s, s, value=-1))  # through σ: σ (1 - σ)
            torch.mul(dgg, torch.addcmul(one, g, g, value=-1), out=r(dGg[j]))  # through tanh: 1 - g²
            if self.ln:
                da = ln_backward(r(dGs[j]) * g_hh, r(Ahs[j]), r(MUhs[j]), r(RShs[j]), 4)  # through LN(W_hh h)
                r(DAs[j]).copy_(da)
                torch.mm(da, W_hh, out=r(dh_c))  # dh_{t-1} = da W_hh
            else:
                torch.mm(r(dGs[j]), W_hh, out=r(dh_c))  # dh_{t-1} = dgates W_hh

    def _segment_grads(self, P, x, start, Y, saved, dG, DH, DA, DP, grads, need_dx):
        """Weight gradients of the whole segment, each one large product over (k*B) rows."""
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, Ai, MUi, RSi, Ah, MUh, RSh, MUc, RSc = saved
        k, B, I = x.shape
        H, R = self.H, Y.shape[2]
        add_recurrent_grad(grads[1], DA if self.ln else dG, start[0], Y)  # dW_hh
        dG2 = dG.view(k * B, 4 * H)
        if b is not None:
            grads[2] += dG2.sum(0)  # db
        if self.proj:
            grads[3].addmm_(DH.view(k * B, R).t(), M.view(k * B, H))  # dW_hr
        if self.ln:
            self.gain_grad(grads[5], dG, Ah, MUh, RSh, 4)  # d g_hh
            self.gain_grad(grads[6], DP, C[1:], MUc, RSc, 1)  # d g_c
            if b_c is not None:
                grads[7] += DP.sum((0, 1))  # d b_c
            dXp = self.norm_rows_backward(dG2, Ai, MUi, RSi, g_ih, grads[4], 4)  # through LN(W_ih x); d g_ih
        else:
            dXp = dG2
        grads[0].addmm_(dXp.t(), x.reshape(k * B, I))  # dW_ih
        return torch.mm(dXp, W_ih).view(k, B, I) if need_dx else None  # dx = dXp W_ih
