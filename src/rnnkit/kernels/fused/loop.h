// rnnkit fused CPU kernels: what the compiled time loops of elman.cpp, lstm.cpp and gru.cpp share.
//
// Each family's loop runs the per-step part of the bptt engine's forward and backward
// (src/rnnkit/kernels/bptt/) over one segment of steps, on buffers the Python side has
// allocated exactly as bptt does (so the whole-segment products and weight gradients
// stay in Python, one large product each). Per step: one matrix product straight into a
// buffer (in registers for few rows, else MKL's BLAS, exported by libtorch_cpu), then one
// vectorised pointwise pass over the live rows. Rows are sorted by length: at step j the first sizes[j] rows
// live, and rows past them are never touched.
#pragma once

#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <cmath>
#include <optional>
#include <type_traits>
#include <vector>

extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
int MKL_Set_Num_Threads_Local(int threads);  // the C entry (the lowercase symbol is the Fortran one)
// MKL's packed GEMM: one matrix packed once, reused by every step's product (float only)
size_t sgemm_pack_get_size(const char* identifier, const int* m, const int* n, const int* k);
void sgemm_pack(const char* identifier, const char* trans, const int* m, const int* n, const int* k, const float* alpha,
                const float* src, const int* ld, float* dest);
void sgemm_compute(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* a,
                   const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
}

namespace rnnkit_fused {

using at::Tensor;
using at::vec::Vectorized;
using Opt = std::optional<Tensor>;

// Multiply-adds per step below which one thread is faster than two (measured with
// benchmarks/speed_cpu.py sizes: a second thread costs more than it gives on small steps).
constexpr int64_t PARALLEL_MACS = 1 << 18;
// Pointwise elements per thread below which a step's pointwise pass stays on one thread.
constexpr int64_t PARALLEL_ELEMENTS = 1 << 11;

inline void blas(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                 float beta, float* c, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

inline void blas(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
                 int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

// A scratch buffer aligned to 64 bytes, like torch's CPU allocator: MKL's rounding depends on the
// alignment of its operands, so an unaligned buffer would make runs differ in the last bits.
template <typename T>
class Aligned {
 public:
  explicit Aligned(int64_t n = 0) { resize(n); }
  void resize(int64_t n) {
    const size_t bytes = (static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T) + 63) / 64 * 64;
    data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    TORCH_CHECK(data_ != nullptr, "rnnkit fused: out of memory for a scratch buffer of ", bytes, " bytes");
    size_ = n;
  }
  T* data() const { return data_.get(); }
  bool empty() const { return size_ == 0; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  int64_t size_ = 0;
};

template <typename T>
inline Vectorized<T> load(const T* p, int64_t m) {
  return m == Vectorized<T>::size() ? Vectorized<T>::loadu(p) : Vectorized<T>::loadu(p, m);
}

template <typename T>
inline void store(const Vectorized<T>& v, T* p, int64_t m) {
  if (m == Vectorized<T>::size()) v.store(p); else v.store(p, m);
}

// Rows of a step up to which products run in the loop below instead of BLAS, whose call
// overhead (~2-3 us) is most of a step at small batch sizes.
constexpr int64_t SMALL_ROWS = 4;

// C (n x M) = A (n x K) Bm + beta C for few rows: per row, blocks of up to 8 vectors of C held in
// registers while k runs over K, each step one broadcast of A[r][k] and one FMA per vector of Bm's row k.
template <typename T>
void small_mm(int64_t n, int64_t M, int64_t K, const T* A, int64_t lda, const T* Bm, T beta, T* C, int64_t ldc) {
  using V = Vectorized<T>;
  constexpr int64_t W = V::size(), BLOCK = 8;
  for (int64_t r = 0; r < n; ++r) {
    const T* a = A + r * lda;
    T* c = C + r * ldc;
    for (int64_t j0 = 0; j0 < M; j0 += BLOCK * W) {
      if (M - j0 >= BLOCK * W) {
        V acc[BLOCK];
        for (int64_t q = 0; q < BLOCK; ++q) acc[q] = beta == T(0) ? V(0) : V::loadu(c + j0 + q * W) * V(beta);
        for (int64_t k = 0; k < K; ++k) {
          const V ak(a[k]);
          const T* b = Bm + k * M + j0;
          for (int64_t q = 0; q < BLOCK; ++q) acc[q] = at::vec::fmadd(ak, V::loadu(b + q * W), acc[q]);
        }
        for (int64_t q = 0; q < BLOCK; ++q) acc[q].store(c + j0 + q * W);
      } else {  // the last, partial block
        const int64_t width = M - j0, vectors = (width + W - 1) / W;
        V acc[BLOCK];
        for (int64_t q = 0; q < vectors; ++q) {
          const int64_t m = std::min(W, width - q * W);
          acc[q] = beta == T(0) ? V(0) : load(c + j0 + q * W, m) * V(beta);
        }
        for (int64_t k = 0; k < K; ++k) {
          const V ak(a[k]);
          const T* b = Bm + k * M + j0;
          for (int64_t q = 0; q < vectors; ++q)
            acc[q] = at::vec::fmadd(ak, load(b + q * W, std::min(W, width - q * W)), acc[q]);
        }
        for (int64_t q = 0; q < vectors; ++q) store(acc[q], c + j0 + q * W, std::min(W, width - q * W));
      }
    }
  }
}

// The right-hand factor Bm (K x M, row-major, contiguous) of one call's per-step products
// C (n x M) = A (n x K) Bm + beta C: up to SMALL_ROWS rows through small_mm, more through BLAS;
// in float, Bm is packed once for MKL's packed GEMM (about 15% faster per step at 32 rows).
template <typename T>
class StepWeight {
 public:
  StepWeight(const T* Bm, int64_t K, int64_t M, int64_t rows) : Bm_(Bm), K_(K), M_(M) {
    if constexpr (std::is_same_v<T, float>) {
      if (rows > SMALL_ROWS) {
        const char id = 'A', no = 'N';
        const int m = M, n = rows, k = K;
        const float one = 1;
        packed_.resize(static_cast<int64_t>(sgemm_pack_get_size(&id, &m, &n, &k) / sizeof(float) + 1));
        sgemm_pack(&id, &no, &m, &n, &k, &one, Bm, &m, packed_.data());
      }
    }
  }

  void mm(int64_t n, const T* A, int64_t lda, T beta, T* C, int64_t ldc) const {
    if (n <= 0) return;
    if (n <= SMALL_ROWS) return small_mm(n, M_, K_, A, lda, Bm_, beta, C, ldc);
    if constexpr (std::is_same_v<T, float>) {
      if (!packed_.empty()) {
        const char p = 'P', no = 'N';
        const int m = M_, rows = n, k = K_, ld_a = lda, ld_c = ldc;
        sgemm_compute(&p, &no, &m, &rows, &k, packed_.data(), &m, A, &ld_a, &beta, C, &ld_c);
        return;
      }
    }
    blas('N', 'N', M_, n, K_, T(1), Bm_, M_, A, lda, beta, C, ldc);
  }

 private:
  const T* Bm_;
  int64_t K_, M_;
  Aligned<T> packed_;
};

// MKL's thread count for one kernel call's products (set from its largest step): one thread where a
// step is small. Restored when the call ends.
class BlasThreads {
 public:
  explicit BlasThreads(int64_t macs_per_step)
      : previous_(MKL_Set_Num_Threads_Local(macs_per_step < PARALLEL_MACS ? 1 : at::get_num_threads())) {}
  ~BlasThreads() { MKL_Set_Num_Threads_Local(previous_); }
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  int previous_;
};

// fn(b) for every live row b < n, split across torch's threads where the rows carry enough work.
template <typename F>
void over_rows(int64_t n, int64_t elements_per_row, const F& fn) {
  const int64_t grain = std::max<int64_t>(1, PARALLEL_ELEMENTS / std::max<int64_t>(1, elements_per_row));
  if (n <= grain) {
    for (int64_t b = 0; b < n; ++b) fn(b);
    return;
  }
  at::parallel_for(0, n, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) fn(b);
  });
}

// fn(j, m) for the pieces [j, j + m) of [0, H), whole vectors but the last.
template <typename T, typename F>
inline void lanes(int64_t H, const F& fn) {
  constexpr int64_t W = Vectorized<T>::size();
  for (int64_t j = 0; j < H; j += W) fn(j, std::min(W, H - j));
}

template <typename V>
inline V sigmoid(const V& x) {
  return V(1) / (V(1) + x.neg().exp());  // Sleef's exp (1 ULP); ATen's cheaper exp_u20 measured no faster here
}

// tanh(x) = 2 sigmoid(2x) - 1: one exponential; absolute error at rounding level.
template <typename V>
inline V tanh(const V& x) {
  return V(2) * sigmoid(x * V(2)) - V(1);
}

template <typename T>
inline T sum(const Vectorized<T>& v) {
  T parts[Vectorized<T>::size()];
  v.store(parts);
  T total = 0;
  for (int64_t i = 0; i < Vectorized<T>::size(); ++i) total += parts[i];
  return total;
}

// The mean and 1 / sqrt(var + eps) of a[0, H) (two passes, as ATen's layer norm).
template <typename T>
inline void ln_stats(const T* a, int64_t H, double eps, T& mean, T& rstd) {
  using V = Vectorized<T>;
  V acc(0);
  lanes<T>(H, [&](int64_t j, int64_t m) { acc = acc + load(a + j, m); });
  mean = sum(acc) / H;
  V sq(0);
  const V mu(mean);
  lanes<T>(H, [&](int64_t j, int64_t m) {
    V d = load(a + j, m) - mu;
    if (m < V::size()) d = V::set(V(0), d, m);  // the tail's unused lanes add nothing
    sq = sq + d * d;
  });
  rstd = T(1) / std::sqrt(sum(sq) / H + T(eps));
}

// da[0, H) from dxhat (the gradient of (a - mean) rstd), the saved a, mean and rstd:
//   da = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
template <typename T>
inline void ln_backward(const T* dxhat, const T* a, T mean, T rstd, int64_t H, T* da) {
  using V = Vectorized<T>;
  const V mu(mean), rs(rstd);
  V s1(0), s2(0);
  lanes<T>(H, [&](int64_t j, int64_t m) {
    const V d = load(dxhat + j, m);
    V xh = (load(a + j, m) - mu) * rs;
    if (m < V::size()) xh = V::set(V(0), xh, m);
    s1 = s1 + d;
    s2 = s2 + d * xh;
  });
  const V m1(sum(s1) / H), m2(sum(s2) / H);
  lanes<T>(H, [&](int64_t j, int64_t m) {
    const V xh = (load(a + j, m) - mu) * rs;
    store(rs * (load(dxhat + j, m) - m1 - xh * m2), da + j, m);
  });
}

// One row's gate-wise layer norm: for each of its G gates of H values, out = (a - mean) rstd gain (+ bias),
// added to what out holds when `accumulate`; MU[q] and RS[q] receive gate q's mean and 1 / sigma.
template <typename T>
inline void norm_row(const T* a, const T* gain, const T* bias, int64_t G, int64_t H, double eps, T* MU, T* RS, T* out,
                     bool accumulate) {
  using V = Vectorized<T>;
  for (int64_t q = 0; q < G; ++q) {
    const T* aq = a + q * H;
    T* oq = out + q * H;
    ln_stats(aq, H, eps, MU[q], RS[q]);
    const V mu(MU[q]), rs(RS[q]);
    lanes<T>(H, [&](int64_t i, int64_t m) {
      V v = (load(aq + i, m) - mu) * rs * load(gain + q * H + i, m);
      if (bias != nullptr) v = v + load(bias + q * H + i, m);
      if (accumulate) v = v + load(oq + i, m);
      store(v, oq + i, m);
    });
  }
}

// One row back through LN(a) gain, gate by gate: dA = LN'(d gain); `scaled` is scratch for G * H values.
template <typename T>
inline void norm_row_backward(const T* d, const T* a, const T* MU, const T* RS, const T* gain, int64_t G, int64_t H,
                              T* scaled, T* dA) {
  lanes<T>(G * H, [&](int64_t i, int64_t m) { store(load(d + i, m) * load(gain + i, m), scaled + i, m); });
  for (int64_t q = 0; q < G; ++q) ln_backward<T>(scaled + q * H, a + q * H, MU[q], RS[q], H, dA + q * H);
}

// Rows ends[j] .. n - 1 ended at step j: copy their state row into the final state.
template <typename T>
inline void keep_finals(const T* state, T* fin, int64_t from, int64_t to, int64_t width) {
  if (from < to) std::copy(state + from * width, state + to * width, fin + from * width);
}

inline void expect(bool ok, const char* kernel, const char* what) {
  TORCH_CHECK(ok, kernel, ": expected ", what);
}

// A contiguous CPU tensor of `dtype` with `numel` elements, or fails naming `what`.
inline void want(const Tensor& t, at::ScalarType dtype, int64_t numel, const char* kernel, const char* what) {
  expect(t.device().is_cpu() && t.is_contiguous() && t.scalar_type() == dtype && t.numel() == numel, kernel, what);
}

template <typename T>
inline T* ptr(const Tensor& t) {
  return t.data_ptr<T>();
}

template <typename T>
inline T* ptr(const Opt& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}

inline bool has(const Opt& t) {
  return t.has_value() && t->defined();
}

// Gate-wise layer norm of whole segments (the input products W_ih x of all steps), one pass per row:
// A (N, G*H) normalised per gate over H. The per-step norms inside the loops use the helpers above.
template <typename T>
void norm_rows_forward(const T* A, const T* gain, const T* bias, int64_t N, int64_t G, int64_t H, double eps, T* out,
                       T* MU, T* RS) {
  over_rows(N, 3 * G * H, [&](int64_t r) {
    norm_row(A + r * G * H, gain, bias, G, H, eps, MU + r * G, RS + r * G, out + r * G * H, false);
  });
}

// dgain += sum over rows of dOut * xhat; with dA: dA = LN'(dOut * gain) (the gradient of A). One pass per
// row; each thread sums its rows' share of dgain on its own and adds it under a lock.
template <typename T>
void norm_rows_backward(const T* dOut, const T* A, const T* MU, const T* RS, const T* gain, int64_t N, int64_t G,
                        int64_t H, T* dA, T* dgain) {
  using V = Vectorized<T>;
  std::mutex lock;
  const int64_t GH = G * H;
  const int64_t grain = std::max<int64_t>(1, PARALLEL_ELEMENTS / std::max<int64_t>(1, 3 * GH));
  at::parallel_for(0, N, grain, [&](int64_t r0, int64_t r1) {
    std::vector<T> part(GH, T(0)), scaled(dA != nullptr ? GH : 0);
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t q = 0; q < G; ++q) {
        const int64_t at = r * GH + q * H;
        const V mu(MU[r * G + q]), rs(RS[r * G + q]);
        lanes<T>(H, [&](int64_t i, int64_t m) {
          const V xhat = (load(A + at + i, m) - mu) * rs;
          store(load(part.data() + q * H + i, m) + load(dOut + at + i, m) * xhat, part.data() + q * H + i, m);
        });
      }
      if (dA != nullptr) norm_row_backward<T>(dOut + r * GH, A + r * GH, MU + r * G, RS + r * G, gain, G, H,
                                              scaled.data(), dA + r * GH);
    }
    const std::lock_guard<std::mutex> guard(lock);
    for (int64_t i = 0; i < GH; ++i) dgain[i] += part[i];
  });
}

inline void norm_forward(Tensor A, Tensor gain, Opt bias, int64_t gates, double eps, Tensor out, Tensor MU,
                         Tensor RS) {
  const auto dt = A.scalar_type();
  const int64_t GH = A.size(-1), N = A.numel() / std::max<int64_t>(1, GH), H = GH / gates;
  const char* k = "fused norm_forward";
  want(A, dt, N * GH, k, "A contiguous (N, G*H)");
  want(gain, dt, GH, k, "the gain (G*H,)");
  want(out, dt, N * GH, k, "out contiguous (N, G*H)");
  want(MU, dt, N * gates, k, "MU (N, G)");
  want(RS, dt, N * gates, k, "RS (N, G)");
  if (has(bias)) want(*bias, dt, GH, k, "the bias (G*H,)");
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_norm_forward", [&] {
    using T = scalar_t;
    norm_rows_forward<T>(ptr<T>(A), ptr<T>(gain), ptr<T>(bias), N, gates, H, eps, ptr<T>(out), ptr<T>(MU),
                         ptr<T>(RS));
  });
}

inline void norm_backward(Tensor dOut, Tensor A, Tensor MU, Tensor RS, Opt gain, int64_t gates, Opt dA,
                          Tensor dgain) {
  const auto dt = A.scalar_type();
  const int64_t GH = A.size(-1), N = A.numel() / std::max<int64_t>(1, GH), H = GH / gates;
  const char* k = "fused norm_backward";
  want(dOut, dt, N * GH, k, "dOut contiguous, shaped as A");
  want(A, dt, N * GH, k, "A contiguous (N, G*H)");
  want(MU, dt, N * gates, k, "MU (N, G)");
  want(RS, dt, N * gates, k, "RS (N, G)");
  want(dgain, dt, GH, k, "dgain contiguous (G*H,)");
  expect(has(dA) == has(gain), k, "dA and the gain together");
  if (has(dA)) {
    want(*dA, dt, N * GH, k, "dA contiguous, shaped as A");
    want(*gain, dt, GH, k, "the gain (G*H,)");
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "fused_norm_backward", [&] {
    using T = scalar_t;
    norm_rows_backward<T>(ptr<T>(dOut), ptr<T>(A), ptr<T>(MU), ptr<T>(RS), ptr<T>(gain), N, gates, H, ptr<T>(dA),
                          ptr<T>(dgain));
  });
}

// The whole-segment layer-norm functions every family's module exports.
inline void def_norm(pybind11::module& m) {
  m.def("norm_forward", &norm_forward, "gate-wise layer norm of rows, times the gain, plus the bias");
  m.def("norm_backward", &norm_backward, "the gain's gradient, and (with dA) the rows' gradient");
}

}  // namespace rnnkit_fused
