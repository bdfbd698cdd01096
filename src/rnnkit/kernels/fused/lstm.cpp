// rnnkit fused CPU kernel: the LSTM time loop of one segment (projection, layer norm), forward and backward.
//
// Gate rows come in the bptt engine's order (i, f, o, g): the three sigmoid gates first.
// Per step j with n = sizes[j] live rows (see loop.h), as kernels/bptt/lstm.py:
//   forward:  gates = Xp_j + W_hh h_{j-1}      (layer norm: Xp_j + LN(A_j) g_hh per gate, A_j = W_hh h_{j-1})
//             (i, f, o) = sigmoid, g = tanh;  c_j = f c_{j-1} + i g;  u = tanh(c_j) (or tanh(LN(c_j) g_c + b_c))
//             m = o u;  h_j = m (or W_hr m with a projection)
//   backward: dh = dY_j + carry_h (kept in DH_j with a projection);  dm = dh (or dh W_hr)
//             do = dm u;  dpre = dm o (1 - u^2)  (kept in DP_j with layer norm; dc gets LN'(dpre g_c));
//             dc = carry_c + dpre;  di = dc g;  df = dc c_{j-1};  dg = dc i;  carry_c = dc f
//             through the nonlinearities: s (1 - s) for i, f, o and 1 - g^2 for g
//             carry_h = dG_j W_hh  (with layer norm DA_j = LN'(dG_j g_hh) per gate, carry_h = DA_j W_hh)
#include "loop.h"

#include <omp.h>

namespace rnnkit_fused {
namespace {

const char* const KERNEL = "fused lstm";

struct Dims {
  int64_t B, H, R;  // batch, hidden, state (R = H, or the projection size)
};

// One piece [i, i + m) of a row from its gate pre-activations (pointers already at i): sigma(i, f, o) into s
// (gates H apart), tanh(g) into g, c = f c_prev + i g into c; without layer norm on c also u = tanh(c) into tc
// and h = o u into out (with it, u and h follow once c's mean and 1/sigma are known).
template <typename T>
inline void lstm_lanes(const Vectorized<T>& pi, const Vectorized<T>& pf, const Vectorized<T>& po,
                       const Vectorized<T>& pg, const T* cp, T* s, T* g, T* c, T* tc, T* out, int64_t H, int64_t m,
                       bool ln) {
  using V = Vectorized<T>;
  const V si = sigmoid(pi), sf = sigmoid(pf), so = sigmoid(po), gg = tanh(pg);
  const V cv = sf * load(cp, m) + si * gg;
  store(si, s, m);
  store(sf, s + H, m);
  store(so, s + 2 * H, m);
  store(gg, g, m);
  store(cv, c, m);
  if (!ln) {
    const V u = tanh(cv);
    store(u, tc, m);
    store(so * u, out, m);
  }
}

template <typename T>
struct Forward {
  T* Xp;  // (k, B, 4H), becomes the gate pre-activations
  const T *W_hhT, *W_hrT, *g_hh, *g_c, *b_c, *h0;
  T *S, *G, *TC, *C, *M, *Y, *Ah, *MUh, *RSh, *MUc, *RSc, *fin_h, *fin_c;
};

// The forward loop split by hidden units across threads (plain LSTM, no layer norm or projection, steps
// big enough): thread t owns units [j0, j1) of all four gates, holds their columns of W_hh^T (R x 4 h_t,
// packed once) and, per step, multiplies h_{j-1} by them on one MKL thread and runs the pointwise
// pass for its units; one barrier per step. Each thread's share of W_hh stays in its core's cache, and a
// step is one parallel region instead of two (MKL's, then the pointwise pass's).
template <typename T>
void split_forward_kernel(const Forward<T>& f, const std::vector<int64_t>& sizes, const std::vector<int64_t>& ends,
                          const Dims d, int parts) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size());
  const int64_t B = d.B, H = d.H, R = d.R, H4 = 4 * H, W = V::size();
  std::vector<int64_t> bounds(parts + 1);
  for (int t = 0; t <= parts; ++t) bounds[t] = t == parts ? H : (H / W) * t / parts * W;
  std::vector<Aligned<T>> columns(parts), scratch(parts);
  std::vector<std::unique_ptr<StepWeight<T>>> weights(parts);
  for (int t = 0; t < parts; ++t) {
    const int64_t j0 = bounds[t], h = bounds[t + 1] - j0;
    columns[t].resize(R * 4 * h);
    T* c = columns[t].data();
    for (int64_t r = 0; r < R; ++r)
      for (int64_t q = 0; q < 4; ++q) std::copy_n(f.W_hhT + r * H4 + q * H + j0, h, c + r * 4 * h + q * h);
    weights[t] = std::make_unique<StepWeight<T>>(c, R, 4 * h, sizes[0]);
    scratch[t].resize(B * 4 * h);
  }
#pragma omp parallel num_threads(parts)
  {
    const int t = omp_get_thread_num();
    const int previous = MKL_Set_Num_Threads_Local(1);
    const int64_t j0 = bounds[t], j1 = bounds[t + 1], h = j1 - j0;
    T* g4 = scratch[t].data();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t n = sizes[j];
      const T* hp = j == 0 ? f.h0 : f.Y + (j - 1) * B * R;
      weights[t]->mm(n, hp, R, T(0), g4, 4 * h);
      for (int64_t b = 0; b < n; ++b) {
        const int64_t row = j * B + b;
        const T* x = f.Xp + row * H4;
        const T* a = g4 + b * 4 * h;  // a[q * h + u - j0] is unit u's recurrent part of gate q
        for (int64_t u = j0; u < j1; u += W) {
          const int64_t m = std::min(W, j1 - u);
          lstm_lanes<T>(load(x + u, m) + load(a + u - j0, m), load(x + H + u, m) + load(a + h + u - j0, m),
                        load(x + 2 * H + u, m) + load(a + 2 * h + u - j0, m),
                        load(x + 3 * H + u, m) + load(a + 3 * h + u - j0, m), f.C + row * H + u,
                        f.S + row * 3 * H + u, f.G + row * H + u, f.C + (row + B) * H + u, f.TC + row * H + u,
                        f.Y + row * R + u, H, m, false);
        }
      }
      for (int64_t r = ends[j]; r < n; ++r) {  // rows ending here: this thread's units of their final state
        std::copy(f.Y + (j * B + r) * R + j0, f.Y + (j * B + r) * R + j1, f.fin_h + r * R + j0);
        std::copy(f.C + ((j + 1) * B + r) * H + j0, f.C + ((j + 1) * B + r) * H + j1, f.fin_c + r * H + j0);
      }
#pragma omp barrier
    }
    MKL_Set_Num_Threads_Local(previous);
  }
}

template <typename T>
void forward_kernel(const Forward<T>& f, const std::vector<int64_t>& sizes, const std::vector<int64_t>& ends,
                    const Dims d, double eps) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size());
  const int64_t B = d.B, H = d.H, R = d.R, H4 = 4 * H;
  const bool ln = f.Ah != nullptr, proj = f.W_hrT != nullptr;
  const int parts = static_cast<int>(std::min<int64_t>(at::get_num_threads(), H / V::size()));
  if (!ln && !proj && parts > 1 && k > 0 && sizes[0] > SMALL_ROWS && sizes[0] * H4 * R >= PARALLEL_MACS) {
    return split_forward_kernel(f, sizes, ends, d, parts);
  }
  const BlasThreads threads(k > 0 ? sizes[0] * H4 * R : 0);
  const int64_t rows = k > 0 ? sizes[0] : 0;
  const StepWeight<T> w(f.W_hhT, R, H4, rows);
  const StepWeight<T> w_r(f.W_hrT, H, R, proj ? rows : 0);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t n = sizes[j];
    const T* hp = j == 0 ? f.h0 : f.Y + (j - 1) * B * R;
    T* xs = f.Xp + j * B * H4;
    T* a = ln ? f.Ah + j * B * H4 : nullptr;
    if (ln) w.mm(n, hp, R, T(0), a, H4);
    else w.mm(n, hp, R, T(1), xs, H4);
    over_rows(n, 5 * H, [&](int64_t b) {
      const int64_t row = j * B + b;
      T* x = xs + b * H4;
      if (ln) norm_row(a + b * H4, f.g_hh, static_cast<const T*>(nullptr), 4, H, eps, f.MUh + row * 4,
                       f.RSh + row * 4, x, true);
      T* s = f.S + row * 3 * H;
      T* g = f.G + row * H;
      T* tc = f.TC + row * H;
      const T* cp = f.C + row * H;
      T* c = f.C + (row + B) * H;
      T* out = proj ? f.M + row * H : f.Y + row * R;
      lanes<T>(H, [&](int64_t i, int64_t m) {
        lstm_lanes<T>(load(x + i, m), load(x + H + i, m), load(x + 2 * H + i, m), load(x + 3 * H + i, m), cp + i,
                      s + i, g + i, c + i, tc + i, out + i, H, m, ln);
      });
      if (ln) {
        T mean, rstd;
        ln_stats(c, H, eps, mean, rstd);
        f.MUc[row] = mean;
        f.RSc[row] = rstd;
        const V mu(mean), rs(rstd);
        lanes<T>(H, [&](int64_t i, int64_t m) {
          V v = (load(c + i, m) - mu) * rs * load(f.g_c + i, m);
          if (f.b_c != nullptr) v = v + load(f.b_c + i, m);
          const V u = tanh(v);
          store(u, tc + i, m);
          store(load(s + 2 * H + i, m) * u, out + i, m);
        });
      }
    });
    if (proj) {
      w_r.mm(n, f.M + j * B * H, H, T(0), f.Y + j * B * R, R);
    }
    keep_finals(f.Y + j * B * R, f.fin_h, ends[j], n, R);
    keep_finals(f.C + (j + 1) * B * H, f.fin_c, ends[j], n, H);
  }
}

template <typename T>
struct Backward {
  const T *W_hh, *W_hr, *g_hh, *g_c, *S, *G, *TC, *C, *Ah, *MUh, *RSh, *MUc, *RSc, *dY;
  T *carry_h, *carry_c, *dG, *DH, *DA, *DP;
};

template <typename T>
void backward_kernel(const Backward<T>& g, const std::vector<int64_t>& sizes, const Dims d) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size());
  const int64_t B = d.B, H = d.H, R = d.R, H4 = 4 * H;
  const bool ln = g.Ah != nullptr, proj = g.W_hr != nullptr;
  const BlasThreads threads(k > 0 ? sizes[0] * H4 * R : 0);
  const int64_t rows = k > 0 ? sizes[0] : 0;
  const StepWeight<T> w(g.W_hh, H4, R, rows);
  const StepWeight<T> w_r(g.W_hr, R, H, proj ? rows : 0);
  Aligned<T> dm_buf(proj ? B * H : 0);  // dh W_hr with a projection (a product's output: aligned)
  std::vector<T> scaled(ln ? B * H4 : 0);   // per row: dpre g_c, then dG g_hh (the gradients of the LN outputs)
  for (int64_t j = k - 1; j >= 0; --j) {
    const int64_t n = sizes[j];
    if (proj) {
      T* dh = g.DH + j * B * R;
      over_rows(n, R, [&](int64_t b) {
        lanes<T>(R, [&](int64_t i, int64_t m) {
          store(load(g.dY + (j * B + b) * R + i, m) + load(g.carry_h + b * R + i, m), dh + b * R + i, m);
        });
      });
      w_r.mm(n, dh, R, T(0), dm_buf.data(), H);
    }
    over_rows(n, 6 * H, [&](int64_t b) {
      const int64_t row = j * B + b;
      const T* s = g.S + row * 3 * H;
      const T* gg = g.G + row * H;
      const T* tc = g.TC + row * H;
      const T* cp = g.C + row * H;
      T* dG = g.dG + row * H4;
      T* dcc = g.carry_c + b * H;
      // dm and, from it, do (into dG's o slot) and dpre (into dG's g slot for now, or DP with layer norm)
      T* dpre = ln ? g.DP + row * H : dG + 3 * H;
      lanes<T>(H, [&](int64_t i, int64_t m) {
        const V dm = proj ? load(dm_buf.data() + b * H + i, m)
                          : load(g.dY + row * R + i, m) + load(g.carry_h + b * R + i, m);
        const V u = load(tc + i, m);
        store(dm * u, dG + 2 * H + i, m);
        store(dm * load(s + 2 * H + i, m) * (V(1) - u * u), dpre + i, m);
      });
      if (ln)  // dc's share through u = tanh(LN(c) g_c + b_c): LN'(dpre g_c), into dG's g slot
        norm_row_backward(dpre, g.C + (row + B) * H, g.MUc + row, g.RSc + row, g.g_c, 1, H, scaled.data() + b * H4,
                          dG + 3 * H);
      lanes<T>(H, [&](int64_t i, int64_t m) {
        const V dc = load(dcc + i, m) + load(dG + 3 * H + i, m);
        const V si = load(s + i, m), sf = load(s + H + i, m), so = load(s + 2 * H + i, m);
        const V gv = load(gg + i, m);
        store(dc * gv * si * (V(1) - si), dG + i, m);
        store(dc * load(cp + i, m) * sf * (V(1) - sf), dG + H + i, m);
        store(load(dG + 2 * H + i, m) * so * (V(1) - so), dG + 2 * H + i, m);
        store(dc * si * (V(1) - gv * gv), dG + 3 * H + i, m);
        store(dc * sf, dcc + i, m);
      });
      if (ln)
        norm_row_backward(dG, g.Ah + row * H4, g.MUh + row * 4, g.RSh + row * 4, g.g_hh, 4, H, scaled.data() + b * H4,
                          g.DA + row * H4);
    });
    w.mm(n, (ln ? g.DA : g.dG) + j * B * H4, H4, T(0), g.carry_h, R);
  }
}

void check_norm(bool ln, const Opt& g_hh, const Opt& g_c, const Opt& Ah, const Opt& MUh, const Opt& RSh,
                const Opt& MUc, const Opt& RSc, at::ScalarType dt, int64_t k, int64_t B, int64_t H) {
  if (!ln) return;
  want(*g_hh, dt, 4 * H, KERNEL, "the gain g_hh (4H,)");
  want(*g_c, dt, H, KERNEL, "the gain g_c (H,)");
  want(*Ah, dt, k * B * 4 * H, KERNEL, "Ah contiguous (k, B, 4H)");
  want(*MUh, dt, k * B * 4, KERNEL, "MUh (k, B, 4)");
  want(*RSh, dt, k * B * 4, KERNEL, "RSh (k, B, 4)");
  want(*MUc, dt, k * B, KERNEL, "MUc (k, B, 1)");
  want(*RSc, dt, k * B, KERNEL, "RSc (k, B, 1)");
}

}  // namespace

// One segment forward (see the top of this file); Xp (k, B, 4H) holds the input part of the gates.
void forward(Tensor Xp, Tensor W_hhT, Opt W_hrT, Opt g_hh, Opt g_c, Opt b_c, Tensor h0, Tensor S, Tensor G, Tensor TC,
             Tensor C, Opt M, Tensor Y, Opt Ah, Opt MUh, Opt RSh, Opt MUc, Opt RSc, std::vector<int64_t> sizes,
             std::vector<int64_t> ends, Tensor fin_h, Tensor fin_c, double eps) {
  const int64_t k = Xp.size(0), B = Xp.size(1), H = Xp.size(2) / 4, R = Y.size(2);
  const auto dt = Xp.scalar_type();
  expect(static_cast<int64_t>(sizes.size()) == k && ends.size() == sizes.size(), KERNEL, "one size per step");
  want(Xp, dt, k * B * 4 * H, KERNEL, "Xp contiguous (k, B, 4H)");
  want(W_hhT, dt, 4 * H * R, KERNEL, "W_hh^T contiguous (R, 4H) of Xp's dtype");
  want(h0, dt, B * R, KERNEL, "the start state h contiguous (B, R)");
  want(S, dt, k * B * 3 * H, KERNEL, "S contiguous (k, B, 3H)");
  want(G, dt, k * B * H, KERNEL, "G contiguous (k, B, H)");
  want(TC, dt, k * B * H, KERNEL, "TC contiguous (k, B, H)");
  want(C, dt, (k + 1) * B * H, KERNEL, "C contiguous (k + 1, B, H)");
  want(Y, dt, k * B * R, KERNEL, "Y contiguous (k, B, R)");
  want(fin_h, dt, B * R, KERNEL, "the final h contiguous (B, R)");
  want(fin_c, dt, B * H, KERNEL, "the final c contiguous (B, H)");
  expect(has(W_hrT) == has(M) && (has(W_hrT) || R == H), KERNEL, "W_hr^T and M together, or R == H without them");
  if (has(W_hrT)) {
    want(*W_hrT, dt, R * H, KERNEL, "W_hr^T contiguous (H, R)");
    want(*M, dt, k * B * H, KERNEL, "M contiguous (k, B, H)");
  }
  const bool ln = has(Ah);
  check_norm(ln, g_hh, g_c, Ah, MUh, RSh, MUc, RSc, dt, k, B, H);
  if (ln && has(b_c)) want(*b_c, dt, H, KERNEL, "the shift b_c (H,)");
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_lstm_forward", [&] {
    using T = scalar_t;
    const Forward<T> f{ptr<T>(Xp),  ptr<T>(W_hhT), ptr<T>(W_hrT), ptr<T>(g_hh), ptr<T>(g_c), ptr<T>(b_c),
                       ptr<T>(h0),  ptr<T>(S),    ptr<T>(G),    ptr<T>(TC),   ptr<T>(C),   ptr<T>(M),
                       ptr<T>(Y),   ptr<T>(Ah),   ptr<T>(MUh),  ptr<T>(RSh),  ptr<T>(MUc), ptr<T>(RSc),
                       ptr<T>(fin_h), ptr<T>(fin_c)};
    forward_kernel<T>(f, sizes, ends, Dims{B, H, R}, eps);
  });
}

// One segment backward: dG (k, B, 4H) receives the gate pre-activation gradients; carry_h (B, R) and
// carry_c (B, H) walk back; DH (projection), DA and DP (layer norm) what the weight gradients need.
void backward(Tensor W_hh, Opt W_hr, Opt g_hh, Opt g_c, Tensor S, Tensor G, Tensor TC, Tensor C, Opt Ah, Opt MUh,
              Opt RSh, Opt MUc, Opt RSc, Tensor dY, Tensor carry_h, Tensor carry_c, Tensor dG, Opt DH, Opt DA,
              Opt DP, std::vector<int64_t> sizes) {
  const int64_t k = dY.size(0), B = dY.size(1), R = dY.size(2), H = G.size(2);
  const auto dt = dY.scalar_type();
  expect(static_cast<int64_t>(sizes.size()) == k, KERNEL, "one size per step");
  want(W_hh, dt, 4 * H * R, KERNEL, "W_hh contiguous (4H, R)");
  want(S, dt, k * B * 3 * H, KERNEL, "S contiguous (k, B, 3H)");
  want(G, dt, k * B * H, KERNEL, "G contiguous (k, B, H)");
  want(TC, dt, k * B * H, KERNEL, "TC contiguous (k, B, H)");
  want(C, dt, (k + 1) * B * H, KERNEL, "C contiguous (k + 1, B, H)");
  want(dY, dt, k * B * R, KERNEL, "dY contiguous (k, B, R)");
  want(carry_h, dt, B * R, KERNEL, "carry_h contiguous (B, R)");
  want(carry_c, dt, B * H, KERNEL, "carry_c contiguous (B, H)");
  want(dG, dt, k * B * 4 * H, KERNEL, "dG contiguous (k, B, 4H)");
  expect(has(W_hr) == has(DH) && (has(W_hr) || R == H), KERNEL, "W_hr and DH together, or R == H without them");
  if (has(W_hr)) {
    want(*W_hr, dt, R * H, KERNEL, "W_hr contiguous (R, H)");
    want(*DH, dt, k * B * R, KERNEL, "DH contiguous (k, B, R)");
  }
  const bool ln = has(Ah);
  check_norm(ln, g_hh, g_c, Ah, MUh, RSh, MUc, RSc, dt, k, B, H);
  if (ln) {
    want(*DA, dt, k * B * 4 * H, KERNEL, "DA contiguous (k, B, 4H)");
    want(*DP, dt, k * B * H, KERNEL, "DP contiguous (k, B, H)");
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_lstm_backward", [&] {
    using T = scalar_t;
    const Backward<T> g{ptr<T>(W_hh), ptr<T>(W_hr), ptr<T>(g_hh),    ptr<T>(g_c),     ptr<T>(S),  ptr<T>(G),
                        ptr<T>(TC),   ptr<T>(C),    ptr<T>(Ah),      ptr<T>(MUh),     ptr<T>(RSh), ptr<T>(MUc),
                        ptr<T>(RSc),  ptr<T>(dY),   ptr<T>(carry_h), ptr<T>(carry_c), ptr<T>(dG), ptr<T>(DH),
                        ptr<T>(DA),   ptr<T>(DP)};
    backward_kernel<T>(g, sizes, Dims{B, H, R});
  });
}

}  // namespace rnnkit_fused

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  rnnkit_fused::def_norm(m);
  m.def("forward", &rnnkit_fused::forward, "LSTM forward over one segment");
  m.def("backward", &rnnkit_fused::backward, "LSTM backward over one segment");
}
