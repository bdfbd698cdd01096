// rnnkit fused CPU kernel: a group of reservoirs that share one sparse W, driven through all T steps.
//
// Column r of the state H (N, R) is one reservoir; W (N, N) is CSR, shared by the group and
// scaled per column. For every step t and row i (rows split across torch's threads):
//   acc_r = sum_k W[i, col_k] H[col_k, r]
//   H'[i, r] = H[i, r] + a_r (f(c_r acc_r + s_r d[t, i] + beta_r b_i) - H[i, r])
// with d[t] = U_in u_t (given), f = tanh, identity or relu. One call runs the whole sequence,
// so no step pays an operator dispatch; the inner loops run along r, contiguous in memory.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>

namespace {

using at::vec::Vectorized;

template <typename scalar_t>
void run_kernel(const int64_t* crow, const int64_t* col, const scalar_t* val, const scalar_t* drive,
                const scalar_t* bias, const scalar_t* radius, const scalar_t* input, const scalar_t* bias_scale,
                const scalar_t* leak, const scalar_t* h0, scalar_t* out, int64_t T, int64_t N, int64_t R,
                int64_t activation) {
  using V = Vectorized<scalar_t>;
  const int64_t W = V::size();
  for (int64_t t = 0; t < T; ++t) {
    const scalar_t* prev = t == 0 ? h0 : out + (t - 1) * N * R;
    scalar_t* next = out + t * N * R;
    at::parallel_for(0, N, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        scalar_t* row = next + i * R;
        // acc = W[i, :] H, four vectors of columns at a time held in registers across the row's entries
        for (int64_t r0 = 0; r0 < R; r0 += 4 * W) {
          const int64_t m0 = std::min(W, R - r0), m1 = std::clamp<int64_t>(R - r0 - W, 0, W),
                        m2 = std::clamp<int64_t>(R - r0 - 2 * W, 0, W), m3 = std::clamp<int64_t>(R - r0 - 3 * W, 0, W);
          V a0(0), a1(0), a2(0), a3(0);
          for (int64_t k = crow[i]; k < crow[i + 1]; ++k) {
            const V w(val[k]);
            const scalar_t* h = prev + col[k] * R + r0;
            a0 = at::vec::fmadd(w, V::loadu(h, m0), a0);
            if (m1) a1 = at::vec::fmadd(w, V::loadu(h + W, m1), a1);
            if (m2) a2 = at::vec::fmadd(w, V::loadu(h + 2 * W, m2), a2);
            if (m3) a3 = at::vec::fmadd(w, V::loadu(h + 3 * W, m3), a3);
          }
          a0.store(row + r0, m0);
          if (m1) a1.store(row + r0 + W, m1);
          if (m2) a2.store(row + r0 + 2 * W, m2);
          if (m3) a3.store(row + r0 + 3 * W, m3);
        }
        const scalar_t d = drive[t * N + i], b = bias[i];
        const scalar_t* old = prev + i * R;
        for (int64_t r = 0; r < R; r += W) {
          const int64_t m = std::min(W, R - r);
          V pre = V::loadu(radius + r, m) * V::loadu(row + r, m) + V::loadu(input + r, m) * V(d) +
                  V::loadu(bias_scale + r, m) * V(b);
          if (activation == 0) pre = pre.tanh();
          else if (activation == 2) pre = at::vec::maximum(pre, V(0));
          const V h = V::loadu(old + r, m);
          (h + V::loadu(leak + r, m) * (pre - h)).store(row + r, m);
        }
      }
    });
  }
}

void run(torch::Tensor crow, torch::Tensor col, torch::Tensor val, torch::Tensor drive, torch::Tensor bias,
         torch::Tensor radius, torch::Tensor input, torch::Tensor bias_scale, torch::Tensor leak, torch::Tensor h0,
         torch::Tensor out, int64_t activation) {
  const int64_t T = drive.size(0), N = drive.size(1), R = h0.size(1);
  for (const auto& t : {crow, col, val, drive, bias, radius, input, bias_scale, leak, h0, out})
    TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "reservoir_group: expected contiguous CPU tensors");
  TORCH_CHECK(crow.numel() == N + 1 && h0.size(0) == N && out.size(0) == T && out.size(1) == N && out.size(2) == R,
              "reservoir_group: expected crow (N+1,), h0 (N, R), out (T, N, R) with N = ", N, ", R = ", R);
  TORCH_CHECK(crow.dtype() == torch::kInt64 && col.dtype() == torch::kInt64, "reservoir_group: expected int64 indices");
  AT_DISPATCH_FLOATING_TYPES(val.scalar_type(), "reservoir_group", [&] {
    run_kernel<scalar_t>(crow.data_ptr<int64_t>(), col.data_ptr<int64_t>(), val.data_ptr<scalar_t>(),
                         drive.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(), radius.data_ptr<scalar_t>(),
                         input.data_ptr<scalar_t>(), bias_scale.data_ptr<scalar_t>(), leak.data_ptr<scalar_t>(),
                         h0.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), T, N, R, activation);
  });
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("run", &run, "a group of reservoirs sharing one CSR W, every state written into out (T, N, R)");
}
