// rnnkit fused CPU kernel: the Elman (tanh / ReLU) time loop of one segment, forward and backward.
//
// Per step j with n = sizes[j] live rows (see loop.h), as kernels/bptt/elman.py:
//   forward:  pre = Xp_j + W_hh h_{j-1}          (layer norm: Xp_j + LN(A_j) g_hh, A_j = W_hh h_{j-1})
//             h_j = tanh(pre) or max(pre, 0)
//   backward: dh = dY_j + carry;  dpre = dh (1 - h_j^2) or dh [h_j > 0]
//             (layer norm: DA_j = LN'(dpre g_hh))  carry = dpre W_hh  (or DA_j W_hh)
#include "loop.h"

namespace rnnkit_fused {
namespace {

const char* const KERNEL = "fused elman";

template <typename T>
void forward_kernel(T* Xp, const T* W_hhT, const T* g_hh, const T* h0, T* Y, T* Ah, T* MUh, T* RSh,
                    const std::vector<int64_t>& sizes, const std::vector<int64_t>& ends, T* fin, int64_t B,
                    int64_t H, bool use_tanh, double eps) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size());
  const bool ln = Ah != nullptr;
  const BlasThreads threads(k > 0 ? sizes[0] * H * H : 0);
  const StepWeight<T> w(W_hhT, H, H, k > 0 ? sizes[0] : 0);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t n = sizes[j];
    const T* hp = j == 0 ? h0 : Y + (j - 1) * B * H;
    T* pre = Xp + j * B * H;
    T* out = Y + j * B * H;
    T* a = ln ? Ah + j * B * H : nullptr;
    if (ln) w.mm(n, hp, H, T(0), a, H);
    else w.mm(n, hp, H, T(1), pre, H);
    over_rows(n, H, [&](int64_t b) {
      T* p = pre + b * H;
      T* y = out + b * H;
      if (ln) norm_row(a + b * H, g_hh, static_cast<const T*>(nullptr), 1, H, eps, MUh + j * B + b, RSh + j * B + b,
                       p, true);
      lanes<T>(H, [&](int64_t i, int64_t m) {
        const V v = load(p + i, m);
        store(use_tanh ? tanh(v) : at::vec::maximum(v, V(0)), y + i, m);
      });
    });
    keep_finals(out, fin, ends[j], n, H);
  }
}

template <typename T>
void backward_kernel(const T* W_hh, const T* g_hh, const T* Y, const T* Ah, const T* MUh, const T* RSh,
                     const T* dY, T* carry, T* dG, T* DA, const std::vector<int64_t>& sizes, int64_t B, int64_t H,
                     bool use_tanh) {
  using V = Vectorized<T>;
  const int64_t k = static_cast<int64_t>(sizes.size());
  const bool ln = Ah != nullptr;
  std::vector<T> scaled(ln ? B * H : 0);  // dpre g_hh, the gradient of LN(A) per row
  const BlasThreads threads(k > 0 ? sizes[0] * H * H : 0);
  const StepWeight<T> w(W_hh, H, H, k > 0 ? sizes[0] : 0);
  for (int64_t j = k - 1; j >= 0; --j) {
    const int64_t n = sizes[j];
    const int64_t at = j * B * H;
    over_rows(n, H, [&](int64_t b) {
      const int64_t r = at + b * H;
      lanes<T>(H, [&](int64_t i, int64_t m) {
        const V dh = load(dY + r + i, m) + load(carry + b * H + i, m);
        const V h = load(Y + r + i, m);
        const V dpre = use_tanh ? dh * (V(1) - h * h) : V::blendv(V(0), dh, h > V(0));
        store(dpre, dG + r + i, m);
      });
      if (ln) norm_row_backward(dG + r, Ah + r, MUh + j * B + b, RSh + j * B + b, g_hh, 1, H, scaled.data() + b * H,
                                DA + r);
    });
    w.mm(n, (ln ? DA : dG) + at, H, T(0), carry, H);
  }
}

}  // namespace

// One segment forward: Xp (k, B, H) holds the input part and becomes the pre-activations;
// writes Y (k, B, H), the rows of fin (B, H) that end, and with layer norm Ah, MUh, RSh.
void forward(Tensor Xp, Tensor W_hhT, Opt g_hh, Tensor h0, Tensor Y, Opt Ah, Opt MUh, Opt RSh,
             std::vector<int64_t> sizes, std::vector<int64_t> ends, Tensor fin, bool use_tanh, double eps) {
  const int64_t k = Xp.size(0), B = Xp.size(1), H = Xp.size(2);
  const auto dt = Xp.scalar_type();
  expect(static_cast<int64_t>(sizes.size()) == k && ends.size() == sizes.size(), KERNEL, "one size per step");
  want(Xp, dt, k * B * H, KERNEL, "Xp contiguous (k, B, H)");
  want(W_hhT, dt, H * H, KERNEL, "W_hh^T contiguous (H, H) of Xp's dtype");
  want(h0, dt, B * H, KERNEL, "the start state contiguous (B, H)");
  want(Y, dt, k * B * H, KERNEL, "Y contiguous (k, B, H)");
  want(fin, dt, B * H, KERNEL, "the final state contiguous (B, H)");
  if (has(Ah)) {
    want(*Ah, dt, k * B * H, KERNEL, "Ah contiguous (k, B, H)");
    want(*MUh, dt, k * B, KERNEL, "MUh (k, B, 1)");
    want(*RSh, dt, k * B, KERNEL, "RSh (k, B, 1)");
    want(*g_hh, dt, H, KERNEL, "the gain g_hh (H,)");
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_elman_forward", [&] {
    forward_kernel<scalar_t>(ptr<scalar_t>(Xp), ptr<scalar_t>(W_hhT), ptr<scalar_t>(g_hh), ptr<scalar_t>(h0),
                             ptr<scalar_t>(Y), ptr<scalar_t>(Ah), ptr<scalar_t>(MUh), ptr<scalar_t>(RSh), sizes, ends,
                             ptr<scalar_t>(fin), B, H, use_tanh, eps);
  });
}

// One segment backward: dG (k, B, H) receives d pre, carry (B, H) the state gradient walked back,
// DA (k, B, H) with layer norm the gradient of W_hh h before its norm.
void backward(Tensor W_hh, Opt g_hh, Tensor Y, Opt Ah, Opt MUh, Opt RSh, Tensor dY, Tensor carry, Tensor dG,
              Opt DA, std::vector<int64_t> sizes, bool use_tanh) {
  const int64_t k = Y.size(0), B = Y.size(1), H = Y.size(2);
  const auto dt = Y.scalar_type();
  expect(static_cast<int64_t>(sizes.size()) == k, KERNEL, "one size per step");
  want(W_hh, dt, H * H, KERNEL, "W_hh contiguous (H, H)");
  want(Y, dt, k * B * H, KERNEL, "Y contiguous (k, B, H)");
  want(dY, dt, k * B * H, KERNEL, "dY contiguous (k, B, H)");
  want(carry, dt, B * H, KERNEL, "the carry contiguous (B, H)");
  want(dG, dt, k * B * H, KERNEL, "dG contiguous (k, B, H)");
  if (has(Ah)) {
    want(*Ah, dt, k * B * H, KERNEL, "Ah contiguous (k, B, H)");
    want(*DA, dt, k * B * H, KERNEL, "DA contiguous (k, B, H)");
    want(*MUh, dt, k * B, KERNEL, "MUh (k, B, 1)");
    want(*RSh, dt, k * B, KERNEL, "RSh (k, B, 1)");
    want(*g_hh, dt, H, KERNEL, "the gain g_hh (H,)");
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_elman_backward", [&] {
    backward_kernel<scalar_t>(ptr<scalar_t>(W_hh), ptr<scalar_t>(g_hh), ptr<scalar_t>(Y), ptr<scalar_t>(Ah),
                              ptr<scalar_t>(MUh), ptr<scalar_t>(RSh), ptr<scalar_t>(dY), ptr<scalar_t>(carry),
                              ptr<scalar_t>(dG), ptr<scalar_t>(DA), sizes, B, H, use_tanh);
  });
}

}  // namespace rnnkit_fused

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  rnnkit_fused::def_norm(m);
  m.def("forward", &rnnkit_fused::forward, "Elman forward over one segment");
  m.def("backward", &rnnkit_fused::backward, "Elman backward over one segment");
}
