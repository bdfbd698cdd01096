// rnnkit fused CPU kernels for the parallel-scan cells (minGRU, minLSTM).
//
// The input products W_ih x_t + b_ih of every step come in as one (T, B, G*H) tensor,
// computed by one large matrix product outside. What is left is element-wise and
// sequential only along time: each lane (b, j) of the state runs
//     h_t = a_t h_{t-1} + b_t,  (a_t, b_t) from the lane's pre-activations at step t,
// so one parallel region splits the B*H lanes across threads (whole batch rows where there
// are enough) and every thread walks its lanes through all T steps, time outermost so each
// step streams through contiguous memory, vectorised across neighbouring j (ATen's Vectorized).
//
//   minGRU  (G = 2, rows k, p):     z = sigmoid(k), a = 1 - z, b = z * c(p)
//   minLSTM (G = 3, rows kf, ki, p): d = softplus(-kf) - softplus(-ki), a = sigmoid(-d), b = sigmoid(d) * c(p)
//   c(p) = g(p) = (p >= 0 ? p + 1/2 : sigmoid(p))   or   c(p) = p   ("identity")
//
// Backward (reverse time): with G_t = dL/dh_t (total) and carry = a_{t+1} G_{t+1},
// G_t = dy_t + carry; writing w = 1 - a and h_t = h_{t-1} + w (c - h_{t-1}):
//   minGRU:  dk = G w (1 - w) (c - h_{t-1}),  dp = G w c'(p)
//   minLSTM: D = G w (1 - w) (c - h_{t-1}),  dkf = -D sigmoid(-kf),  dki = D sigmoid(-ki),  dp = G w c'(p)
//   (minLSTM's gate is computed from three exponentials without overflow, see lstm_gate)
//   carry = a_t G_t;  dL/dh_0 = the carry after step 1.
// Both run over a stretch of steps t0 .. t0 + T - 1 at a time: the caller computes that stretch's
// pre-activations into a small reused buffer (one product of about 1,024 rows), so the full
// (T, B, G*H) pre-activations are never stored, and recomputes them in backward.
// Past a sequence's end (t >= lengths[b]) the step is a = 1, b = 0: the state holds, its
// pre-activations get no gradient, and G passes through unchanged.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <vector>

namespace {

using at::vec::Vectorized;

template <typename V>
V sigmoid(V x) {
  return V(1) / (V(1) + x.neg().exp());
}

// The candidate state and its derivative from the pre-activation p.
template <typename V>
void candidate(V p, bool positive, V& c, V& dc) {
  if (!positive) {
    c = p;
    dc = V(1);
    return;
  }
  V s = sigmoid(p);
  V nonneg = p >= V(0);
  c = V::blendv(s, p + V(0.5), nonneg);
  dc = V::blendv(s * (V(1) - s), V(1), nonneg);
}

// The candidate state alone (forward).
template <typename V>
V value(V p, bool positive) {
  return positive ? V::blendv(sigmoid(p), p + V(0.5), p >= V(0)) : p;
}

// minLSTM's gate w = i' = i / (f + i) with f = sigmoid(k_f), i = sigmoid(k_i). Writing
// n_f = -k_f, n_i = -k_i and M = max(n_f, n_i, 0):
//   w = (1 + e^{n_f}) / (2 + e^{n_i} + e^{n_f}) = (e^{-M} + e^{n_f - M}) / (2 e^{-M} + e^{n_i - M} + e^{n_f - M}),
// every exponent <= 0, so nothing overflows and the ratio keeps its precision for any k_f, k_i
// (it depends on k_i - k_f even where both sigmoids have saturated).
template <typename V>
V lstm_gate(const V& k_f, const V& k_i) {
  const V n_f = k_f.neg(), n_i = k_i.neg();
  const V top = at::vec::maximum(at::vec::maximum(n_f, n_i), V(0));
  const V e0 = top.neg().exp(), e_f = (n_f - top).exp(), e_i = (n_i - top).exp();
  return (e0 + e_f) / (V(2) * e0 + e_i + e_f);
}

// w = 1 - a of one step from its gate pre-activations (k1 is used by minLSTM only).
template <typename V>
V gate(const V& k0, const V& k1, bool lstm) {
  return lstm ? lstm_gate(k0, k1) : sigmoid(k0);
}

struct Shape {
  int64_t T, B, H, G;
};

// A task: batch rows [b0, b1) and lanes [j0, j1) of each, walked through all T steps with
// time outermost, so every step reads and writes one contiguous stretch per row.
struct Task {
  int64_t b0, b1, j0, j1;
};

// Splits the B x H lanes into about as many tasks as threads: whole rows when there are
// enough of them, else each row cut into pieces of whole vectors; calls fn(task) in parallel.
template <typename F>
void for_tasks(const Shape& s, int64_t width, F fn) {
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  std::vector<Task> tasks;
  if (s.B >= threads) {
    for (int64_t k = 0; k < threads; ++k) tasks.push_back({s.B * k / threads, s.B * (k + 1) / threads, 0, s.H});
  } else {
    const int64_t pieces = (threads + s.B - 1) / s.B;
    const int64_t vectors = (s.H + width - 1) / width;
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t k = 0; k < pieces; ++k)
        tasks.push_back({b, b + 1, std::min(s.H, vectors * k / pieces * width),
                         std::min(s.H, vectors * (k + 1) / pieces * width)});
  }
  at::parallel_for(0, static_cast<int64_t>(tasks.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      if (tasks[k].b1 > tasks[k].b0 && tasks[k].j1 > tasks[k].j0) fn(tasks[k]);
  });
}

template <typename scalar_t>
void forward_kernel(const scalar_t* pre, const scalar_t* h0, const int64_t* lengths, int64_t t0, scalar_t* h,
                    const Shape s, bool lstm, bool positive) {
  using V = Vectorized<scalar_t>;
  const int64_t W = V::size();
  for_tasks(s, W, [&](const Task& task) {
    for (int64_t t = 0; t < s.T; ++t) {
      for (int64_t b = task.b0; b < task.b1; ++b) {
        const scalar_t* prev = t == 0 ? h0 + b * s.H : h + ((t - 1) * s.B + b) * s.H;
        scalar_t* out = h + (t * s.B + b) * s.H;
        const scalar_t* row = pre + (t * s.B + b) * s.G * s.H;
        const bool live = t0 + t < lengths[b];
        for (int64_t j = task.j0; j < task.j1; j += W) {
          const int64_t m = std::min(W, task.j1 - j);
          V state = V::loadu(prev + j, m);
          if (live) {
            V w = gate(V::loadu(row + j, m), lstm ? V::loadu(row + s.H + j, m) : V(0), lstm);
            state = state + w * (value(V::loadu(row + (s.G - 1) * s.H + j, m), positive) - state);
          }
          state.store(out + j, m);
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_kernel(const scalar_t* grad_h, const scalar_t* pre, const scalar_t* h, const scalar_t* h0,
                     const int64_t* lengths, int64_t t0, scalar_t* grad_pre, scalar_t* carry_all, const Shape s,
                     bool lstm, bool positive) {
  using V = Vectorized<scalar_t>;
  const int64_t W = V::size();
  for_tasks(s, W, [&](const Task& task) {
    for (int64_t t = s.T - 1; t >= 0; --t) {
      for (int64_t b = task.b0; b < task.b1; ++b) {
        const int64_t at = (t * s.B + b) * s.H;
        const int64_t gt = (t * s.B + b) * s.G * s.H;
        scalar_t* carry = carry_all + b * s.H;
        const scalar_t* prev_row = t == 0 ? h0 + b * s.H : h + at - s.B * s.H;
        const bool live = t0 + t < lengths[b];
        for (int64_t j = task.j0; j < task.j1; j += W) {
          const int64_t m = std::min(W, task.j1 - j);
          V total = V::loadu(grad_h + at + j, m) + V::loadu(carry + j, m);
          if (!live) {
            for (int64_t r = 0; r < s.G; ++r) V(0).store(grad_pre + gt + r * s.H + j, m);
            total.store(carry + j, m);
            continue;
          }
          const scalar_t* row = pre + gt;
          V prev = V::loadu(prev_row + j, m);
          V k0 = V::loadu(row + j, m);
          V k1 = lstm ? V::loadu(row + s.H + j, m) : V(0);
          V c, dc;
          V w = gate(k0, k1, lstm);
          candidate(V::loadu(row + (s.G - 1) * s.H + j, m), positive, c, dc);
          V gate_grad = total * w * (V(1) - w) * (c - prev);
          if (lstm) {
            // dd/dk_f = -sigmoid(-k_f), dd/dk_i = sigmoid(-k_i), with d = log(i / f)
            (gate_grad.neg() * sigmoid(k0.neg())).store(grad_pre + gt + j, m);
            (gate_grad * sigmoid(k1.neg())).store(grad_pre + gt + s.H + j, m);
          } else {
            gate_grad.store(grad_pre + gt + j, m);
          }
          (total * w * dc).store(grad_pre + gt + (s.G - 1) * s.H + j, m);
          (total * (V(1) - w)).store(carry + j, m);
        }
      }
    }
  });
}

void expect(bool ok, const char* what) {
  TORCH_CHECK(ok, "min_scan: expected ", what);
}

Shape check(const torch::Tensor& pre, const torch::Tensor& h0, const torch::Tensor& lengths,
            const torch::Tensor& h, int64_t gates) {
  expect(pre.dim() == 3 && pre.is_contiguous() && pre.device().is_cpu(),
         "pre-activations as a contiguous CPU tensor (T, B, G*H)");
  const int64_t T = pre.size(0), B = pre.size(1), H = pre.size(2) / gates;
  expect(pre.size(2) == gates * H, "the pre-activations' last dim to be G*H");
  expect(h0.is_contiguous() && h0.sizes() == torch::IntArrayRef({B, H}) && h0.dtype() == pre.dtype(),
         "the start state contiguous (B, H) of the pre-activations' dtype");
  expect(lengths.dtype() == torch::kInt64 && lengths.numel() == B && lengths.is_contiguous() &&
         lengths.device().is_cpu(), "lengths as contiguous int64 (B,) on the CPU");
  expect(h.is_contiguous() && h.sizes() == torch::IntArrayRef({T, B, H}) && h.dtype() == pre.dtype(),
         "the states contiguous (T, B, H) of the pre-activations' dtype");
  return Shape{T, B, H, gates};
}

// Writes the states of steps t0 .. t0 + T - 1 into h (T, B, H), starting from h_start (B, H).
void forward(torch::Tensor pre, torch::Tensor h_start, torch::Tensor lengths, int64_t t0, torch::Tensor h,
             bool lstm, bool positive) {
  const Shape s = check(pre, h_start, lengths, h, lstm ? 3 : 2);
  AT_DISPATCH_FLOATING_TYPES(pre.scalar_type(), "min_scan_forward", [&] {
    forward_kernel<scalar_t>(pre.data_ptr<scalar_t>(), h_start.data_ptr<scalar_t>(), lengths.data_ptr<int64_t>(),
                             t0, h.data_ptr<scalar_t>(), s, lstm, positive);
  });
}

// Steps t0 .. t0 + T - 1 backwards: grad_pre (T, B, G*H) from dL/dy (T, B, H), the states h of those
// steps and h_start before them; carry (B, H) is a_{t+1} dL/dh_{t+1} coming in and a_t0 dL/dh_t0 going out.
void backward(torch::Tensor grad_h, torch::Tensor pre, torch::Tensor h, torch::Tensor h_start,
              torch::Tensor lengths, int64_t t0, torch::Tensor carry, torch::Tensor grad_pre, bool lstm,
              bool positive) {
  const Shape s = check(pre, h_start, lengths, h, lstm ? 3 : 2);
  expect(grad_h.is_contiguous() && grad_h.sizes() == h.sizes() && grad_h.dtype() == pre.dtype(),
         "dL/dy contiguous, shaped and typed like the states");
  expect(carry.is_contiguous() && carry.sizes() == h_start.sizes() && carry.dtype() == pre.dtype(),
         "the carry contiguous (B, H)");
  expect(grad_pre.is_contiguous() && grad_pre.sizes() == pre.sizes() && grad_pre.dtype() == pre.dtype(),
         "grad_pre contiguous, shaped like the pre-activations");
  AT_DISPATCH_FLOATING_TYPES(pre.scalar_type(), "min_scan_backward", [&] {
    backward_kernel<scalar_t>(grad_h.data_ptr<scalar_t>(), pre.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(),
                              h_start.data_ptr<scalar_t>(), lengths.data_ptr<int64_t>(), t0,
                              grad_pre.data_ptr<scalar_t>(), carry.data_ptr<scalar_t>(), s, lstm, positive);
  });
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "minGRU/minLSTM states of a stretch of steps, written into h");
  m.def("backward", &backward, "the pre-activations' gradients of a stretch of steps, and the carry");
}
