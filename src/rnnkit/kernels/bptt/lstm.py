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

from rnnkit.kernels.bptt.driver import Recurrence, record_final
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

    def init_grads(self, P):
        return [None if p is None else torch.zeros_like(p) for p in P]

    def forward_segment(self, P, x, start, Y, sizes, ends, fin):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        k, B, I = x.shape
        H, R = self.H, Y.shape[2]
        new = x.new_zeros
        # input projection of the whole segment in one matrix product: (k*B, I) @ (I, 4H)
        Xp = torch.mm(x.reshape(k * B, I), W_ih.t())
        XHi = RSi = None
        if self.ln:
            XHi, RSi = new(k * B, 4 * H), new(k * B, 4)
            Xp = ln_forward(Xp, 4, XHi, RSi) * g_ih
        if b is not None:
            Xp += b
        Xp = Xp.view(k, B, 4 * H)
        S, G, TC = new(k, B, 3 * H), new(k, B, H), new(k, B, H)  # σ(i, f, o), tanh(g), tanh(c) or tanh(LN c)
        C = new(k + 1, B, H)  # C[j] = c before step j
        C[0] = start[1]
        M = new(k, B, H) if self.proj else None  # m_t = o tanh(.) before the projection
        XHh, RSh = (new(k, B, 4 * H), new(k, B, 4)) if self.ln else (None, None)
        CH, RSc = (new(k, B, H), new(k, B, 1)) if self.ln else (None, None)
        W_hhT, W_hrT = W_hh.t(), None if W_hr is None else W_hr.t()
        h = start[0]
        for j in range(k):
            n = sizes[j]
            if self.ln:
                a = ln_forward(torch.mm(h[:n], W_hhT), 4, XHh[j, :n], RSh[j, :n])  # LN(W_hh h)
                gates = torch.addcmul(Xp[j, :n], a, g_hh)
            else:
                gates = torch.addmm(Xp[j, :n], h[:n], W_hhT)  # (n, 4H)
            s = torch.sigmoid(gates[:, :3 * H], out=S[j, :n])
            g = torch.tanh(gates[:, 3 * H:], out=G[j, :n])
            c = C[j + 1, :n]
            torch.mul(s[:, H:2 * H], C[j, :n], out=c).addcmul_(s[:, :H], g)  # c = f c_prev + i g
            if self.ln:
                ln_forward(c, 1, CH[j, :n], RSc[j, :n])
                pre = CH[j, :n] * g_c if b_c is None else torch.addcmul(b_c, CH[j, :n], g_c)
                tc = torch.tanh(pre, out=TC[j, :n])
            else:
                tc = torch.tanh(c, out=TC[j, :n])
            if self.proj:
                m = torch.mul(s[:, 2 * H:], tc, out=M[j, :n])
                h_new = torch.mm(m, W_hrT, out=Y[j, :n])  # h = W_hr m
            else:
                h_new = torch.mul(s[:, 2 * H:], tc, out=Y[j, :n])  # h = o tanh(c)
            record_final(fin, (h_new, c), ends[j], n)
            h = Y[j]
        saved = (S, G, TC, C, M, XHi, RSi, XHh, RSh, CH, RSc)
        return saved, (Y[k - 1], C[k])

    def backward_segment(self, P, x, start, Y, saved, dY, carry, sizes, grads, need_dx):
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, XHi, RSi, XHh, RSh, CH, RSc = saved
        k, B, I = x.shape
        H, R = self.H, Y.shape[2]
        new = x.new_zeros
        one = x.new_ones(())
        dG = new(k, B, 4 * H)  # d gate pre-activations (i, f, o, g), zero where a sequence has ended
        DH = new(k, B, R) if self.proj else None  # dh, for dW_hr
        DA = new(k, B, 4 * H) if self.ln else None  # d(W_hh h) before its layer norm
        DP = new(k, B, H) if self.ln else None  # d(LN(c) g_c + b_c)
        dh_c, dc_c = carry
        for j in reversed(range(k)):
            n = sizes[j]
            s, g, tc, dg = S[j, :n], G[j, :n], TC[j, :n], dG[j, :n]
            dh = dY[j, :n] + dh_c[:n]  # h_t feeds the output and step t+1
            if self.proj:
                DH[j, :n] = dh
                dm = torch.mm(dh, W_hr)  # h = W_hr m
            else:
                dm = dh
            torch.mul(dm, tc, out=dg[:, 2 * H:3 * H])  # do = dm tanh(c)
            dpre = dm * s[:, 2 * H:] * torch.addcmul(one, tc, tc, value=-1)  # d(tanh input) = dm o (1 - tanh²)
            if self.ln:
                DP[j, :n] = dpre
                dc = dc_c[:n] + ln_backward(dpre * g_c, CH[j, :n], RSc[j, :n], 1)  # through LN(c)
            else:
                dc = dc_c[:n] + dpre  # c_t feeds tanh(c_t) and step t+1
            torch.mul(dc, g, out=dg[:, :H])  # di = dc g
            torch.mul(dc, C[j, :n], out=dg[:, H:2 * H])  # df = dc c_{t-1}
            dgg = dc * s[:, :H]  # dg = dc i
            torch.mul(dc, s[:, H:2 * H], out=dc_c[:n])  # dc_{t-1} = dc f
            dg[:, :3 * H].mul_(torch.addcmul(s, s, s, value=-1))  # through σ: σ (1 - σ)
            torch.mul(dgg, torch.addcmul(one, g, g, value=-1), out=dg[:, 3 * H:])  # through tanh: 1 - g²
            if self.ln:
                da = ln_backward(dg * g_hh, XHh[j, :n], RSh[j, :n], 4)  # through LN(W_hh h)
                DA[j, :n] = da
                torch.mm(da, W_hh, out=dh_c[:n])  # dh_{t-1} = da W_hh
            else:
                torch.mm(dg, W_hh, out=dh_c[:n])  # dh_{t-1} = dgates W_hh
        return self._segment_grads(P, x, start, Y, saved, dG, DH, DA, DP, grads, need_dx)

    def _segment_grads(self, P, x, start, Y, saved, dG, DH, DA, DP, grads, need_dx):
        """Weight gradients of the whole segment, each one large product over (k*B) rows."""
        W_ih, W_hh, b, W_hr, g_ih, g_hh, g_c, b_c = P
        S, G, TC, C, M, XHi, RSi, XHh, RSh, CH, RSc = saved
        k, B, I = x.shape
        H, R = self.H, Y.shape[2]
        H_prev = torch.cat([start[0].unsqueeze(0), Y[:-1]]).view(k * B, R)  # h_{t-1} for each step
        dG2 = dG.view(k * B, 4 * H)
        grads[1].addmm_((DA.view(k * B, 4 * H) if self.ln else dG2).t(), H_prev)  # dW_hh
        if b is not None:
            grads[2] += dG2.sum(0)  # db
        if self.proj:
            grads[3].addmm_(DH.view(k * B, R).t(), M.view(k * B, H))  # dW_hr
        if self.ln:
            grads[5] += (dG * XHh).sum((0, 1))  # d g_hh
            grads[6] += (DP * CH).sum((0, 1))  # d g_c
            if b_c is not None:
                grads[7] += DP.sum((0, 1))  # d b_c
            grads[4] += (dG2 * XHi).sum(0)  # d g_ih
            dXp = ln_backward(dG2 * g_ih, XHi, RSi, 4)  # through LN(W_ih x)
        else:
            dXp = dG2
        grads[0].addmm_(dXp.t(), x.reshape(k * B, I))  # dW_ih
        return torch.mm(dXp, W_ih).view(k, B, I) if need_dx else None  # dx = dXp W_ih
