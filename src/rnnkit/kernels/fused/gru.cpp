// rnnkit fused CPU kernel: the GRU (reset-after, torch.nn's form) time loop of one segment, forward and backward.
//
// Per step j with n = sizes[j] live rows (see loop.h), as kernels/bptt/gru.py:
//   forward:  gh = W_hh h_{j-1} + b_hh    (layer norm: LN(A_j) g_hh + b_hh per gate, A_j = W_hh h_{j-1})
//             (r, z) = sigmoid(Xp_j[:2H] + gh[:2H]);  n = tanh(Xp_j[2H:] + r gh[2H:]);  h_j = n + z (h_{j-1} - n)
//   backward: dh = dY_j + carry;  dz = dh (h_{j-1} - n);  dn_pre = dh (1 - z) (1 - n^2)  (into dXp's n slot)
//             dr = dn_pre gh_n;  d gh_n = dn_pre r;  then s (1 - s) for r and z  (dGH_j)
//             carry = dh z + dGH_j W_hh  (layer norm: DA_j = LN'(dGH_j g_hh) per gate, carry = dh z + DA_j W_hh)
#include "loop.h"

namespace rnnkit_fused {
namespace {

const char* const KERNEL = "fused gru";

template <typename T>
void forward_kernel(const T* Xp, const T* W_hhT, const T* b_hh, const T* g_hh, const T* h0, T* RZ, T* N, T* GH,
                    T* Y, T* Ah, T* MUh, T* RSh, const std::vector<int64_t>& sizes, const std::vector<int64_t>& ends,
                    T* fin, int64_t B, int64_t H, double eps) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size()), H3 = 3 * H;
  const bool ln = Ah != nullptr;
  const BlasThreads threads(k > 0 ? sizes[0] * H3 * H : 0);
  const StepWeight<T> w(W_hhT, H, H3, k > 0 ? sizes[0] : 0);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t n = sizes[j];
    const T* hp = j == 0 ? h0 : Y + (j - 1) * B * H;
    w.mm(n, hp, H, T(0), (ln ? Ah : GH) + j * B * H3, H3);
    over_rows(n, 4 * H, [&](int64_t b) {
      const int64_t row = j * B + b;
      T* gh = GH + row * H3;
      if (ln) norm_row(Ah + row * H3, g_hh, b_hh, 3, H, eps, MUh + row * 3, RSh + row * 3, gh, false);
      const bool add_bias = !ln && b_hh != nullptr;  // with layer norm the bias came in with the norm
      const T* x = Xp + row * H3;
      const T* h_prev = hp + b * H;
      T* rz = RZ + row * 2 * H;
      T* nn = N + row * H;
      T* y = Y + row * H;
      lanes<T>(H, [&](int64_t i, int64_t m) {
        V gr = load(gh + i, m), gz = load(gh + H + i, m), gn = load(gh + 2 * H + i, m);
        if (add_bias) {  // gh = W_hh h + b_hh, kept for backward
          gr = gr + load(b_hh + i, m);
          gz = gz + load(b_hh + H + i, m);
          gn = gn + load(b_hh + 2 * H + i, m);
          store(gr, gh + i, m);
          store(gz, gh + H + i, m);
          store(gn, gh + 2 * H + i, m);
        }
        const V r = sigmoid(load(x + i, m) + gr);
        const V z = sigmoid(load(x + H + i, m) + gz);
        const V nv = tanh(load(x + 2 * H + i, m) + r * gn);
        store(r, rz + i, m);
        store(z, rz + H + i, m);
        store(nv, nn + i, m);
        store(nv + z * (load(h_prev + i, m) - nv), y + i, m);
      });
    });
    keep_finals(Y + j * B * H, fin, ends[j], n, H);
  }
}

template <typename T>
void backward_kernel(const T* W_hh, const T* g_hh, const T* RZ, const T* N, const T* GH, const T* Y, const T* h0,
                     const T* Ah, const T* MUh, const T* RSh, const T* dY, T* carry, T* dXp, T* dGH, T* DA,
                     const std::vector<int64_t>& sizes, int64_t B, int64_t H) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size()), H3 = 3 * H;
  const bool ln = Ah != nullptr;
  std::vector<T> scaled(ln ? B * H3 : 0);  // dGH g_hh per row, the gradient of LN(A)
  const BlasThreads threads(k > 0 ? sizes[0] * H3 * H : 0);
  const StepWeight<T> w(W_hh, H3, H, k > 0 ? sizes[0] : 0);
  for (int64_t j = k - 1; j >= 0; --j) {
    const int64_t n = sizes[j];
    const T* hp = j == 0 ? h0 : Y + (j - 1) * B * H;
    over_rows(n, 5 * H, [&](int64_t b) {
      const int64_t row = j * B + b;
      const T* rz = RZ + row * 2 * H;
      const T* nn = N + row * H;
      const T* gh_n = GH + row * H3 + 2 * H;
      const T* h_prev = hp + b * H;
      T* dgh = dGH + row * H3;
      T* dxn = dXp + row * H3 + 2 * H;
      T* c = carry + b * H;
      lanes<T>(H, [&](int64_t i, int64_t m) {
        const V dh = load(dY + row * H + i, m) + load(c + i, m);
        const V r = load(rz + i, m), z = load(rz + H + i, m), nv = load(nn + i, m);
        const V dhz = dh * z;
        const V dnp = (dh - dhz) * (V(1) - nv * nv);
        store(dnp, dxn + i, m);
        store(dnp * load(gh_n + i, m) * r * (V(1) - r), dgh + i, m);
        store(dh * (load(h_prev + i, m) - nv) * z * (V(1) - z), dgh + H + i, m);
        store(dnp * r, dgh + 2 * H + i, m);
        store(dhz, c + i, m);  // the direct path h_j = ... + z h_{j-1}; the product below adds the rest
      });
      if (ln) norm_row_backward(dgh, Ah + row * H3, MUh + row * 3, RSh + row * 3, g_hh, 3, H, scaled.data() + b * H3,
                                DA + row * H3);
    });
    w.mm(n, (ln ? DA : dGH) + j * B * H3, H3, T(1), carry, H);
  }
}

}  // namespace

// One segment forward: Xp (k, B, 3H) is the input part (W_ih x + b_ih, or its layer-norm form);
// writes RZ (k, B, 2H), N (k, B, H), GH (k, B, 3H), Y (k, B, H), the rows of fin that end, and Ah, MUh, RSh.
void forward(Tensor Xp, Tensor W_hhT, Opt b_hh, Opt g_hh, Tensor h0, Tensor RZ, Tensor N, Tensor GH, Tensor Y, Opt Ah,
             Opt MUh, Opt RSh, std::vector<int64_t> sizes, std::vector<int64_t> ends, Tensor fin, double eps) {
  const int64_t k = Xp.size(0), B = Xp.size(1), H = Xp.size(2) / 3;
  const auto dt = Xp.scalar_type();
  expect(static_cast<int64_t>(sizes.size()) == k && ends.size() == sizes.size(), KERNEL, "one size per step");
  want(Xp, dt, k * B * 3 * H, KERNEL, "Xp contiguous (k, B, 3H)");
  want(W_hhT, dt, 3 * H * H, KERNEL, "W_hh^T contiguous (H, 3H) of Xp's dtype");
  want(h0, dt, B * H, KERNEL, "the start state contiguous (B, H)");
  want(RZ, dt, k * B * 2 * H, KERNEL, "RZ contiguous (k, B, 2H)");
  want(N, dt, k * B * H, KERNEL, "N contiguous (k, B, H)");
  want(GH, dt, k * B * 3 * H, KERNEL, "GH contiguous (k, B, 3H)");
  want(Y, dt, k * B * H, KERNEL, "Y contiguous (k, B, H)");
  want(fin, dt, B * H, KERNEL, "the final state contiguous (B, H)");
  if (has(b_hh)) want(*b_hh, dt, 3 * H, KERNEL, "b_hh (3H,)");
  if (has(Ah)) {
    want(*Ah, dt, k * B * 3 * H, KERNEL, "Ah contiguous (k, B, 3H)");
    want(*MUh, dt, k * B * 3, KERNEL, "MUh (k, B, 3)");
    want(*RSh, dt, k * B * 3, KERNEL, "RSh (k, B, 3)");
    want(*g_hh, dt, 3 * H, KERNEL, "the gain g_hh (3H,)");
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_gru_forward", [&] {
    using T = scalar_t;
    forward_kernel<T>(ptr<T>(Xp), ptr<T>(W_hhT), ptr<T>(b_hh), ptr<T>(g_hh), ptr<T>(h0), ptr<T>(RZ), ptr<T>(N),
                      ptr<T>(GH), ptr<T>(Y), ptr<T>(Ah), ptr<T>(MUh), ptr<T>(RSh), sizes, ends, ptr<T>(fin), B, H,
                      eps);
  });
}

// One segment backward: dXp's n slot (k, B, 3H) receives d n_pre, dGH (k, B, 3H) the gradients of gh's
// pre-activation parts, carry (B, H) walks back, DA (layer norm) d(W_hh h) before its norm.
void backward(Tensor W_hh, Opt g_hh, Tensor RZ, Tensor N, Tensor GH, Tensor Y, Tensor h0, Opt Ah, Opt MUh, Opt RSh,
              Tensor dY, Tensor carry, Tensor dXp, Tensor dGH, Opt DA, std::vector<int64_t> sizes) {
  const int64_t k = Y.size(0), B = Y.size(1), H = Y.size(2);
  const auto dt = Y.scalar_type();
  expect(static_cast<int64_t>(sizes.size()) == k, KERNEL, "one size per step");
  want(W_hh, dt, 3 * H * H, KERNEL, "W_hh contiguous (3H, H)");
  want(RZ, dt, k * B * 2 * H, KERNEL, "RZ contiguous (k, B, 2H)");
  want(N, dt, k * B * H, KERNEL, "N contiguous (k, B, H)");
  want(GH, dt, k * B * 3 * H, KERNEL, "GH contiguous (k, B, 3H)");
  want(Y, dt, k * B * H, KERNEL, "Y contiguous (k, B, H)");
  want(h0, dt, B * H, KERNEL, "the start state contiguous (B, H)");
  want(dY, dt, k * B * H, KERNEL, "dY contiguous (k, B, H)");
  want(carry, dt, B * H, KERNEL, "the carry contiguous (B, H)");
  want(dXp, dt, k * B * 3 * H, KERNEL, "dXp contiguous (k, B, 3H)");
  want(dGH, dt, k * B * 3 * H, KERNEL, "dGH contiguous (k, B, 3H)");
  if (has(Ah)) {
    want(*Ah, dt, k * B * 3 * H, KERNEL, "Ah contiguous (k, B, 3H)");
    want(*MUh, dt, k * B * 3, KERNEL, "MUh (k, B, 3)");
    want(*RSh, dt, k * B * 3, KERNEL, "RSh (k, B, 3)");
    want(*g_hh, dt, 3 * H, KERNEL, "the gain g_hh (3H,)");
    want(*DA, dt, k * B * 3 * H, KERNEL, "DA contiguous (k, B, 3H)");
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_gru_backward", [&] {
    using T = scalar_t;
    backward_kernel<T>(ptr<T>(W_hh), ptr<T>(g_hh), ptr<T>(RZ), ptr<T>(N), ptr<T>(GH), ptr<T>(Y), ptr<T>(h0),
                       ptr<T>(Ah), ptr<T>(MUh), ptr<T>(RSh), ptr<T>(dY), ptr<T>(carry), ptr<T>(dXp), ptr<T>(dGH),
                       ptr<T>(DA), sizes, B, H);
  });
}

}  // namespace rnnkit_fused

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  rnnkit_fused::def_norm(m);
  m.def("forward", &rnnkit_fused::forward, "GRU forward over one segment");
  m.def("backward", &rnnkit_fused::backward, "GRU backward over one segment");
}
