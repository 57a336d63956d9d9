#include "harness/model/matmul.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <atomic>

#include "harness/model/precision.h"

namespace lb {

namespace {

// oneDNN's C API, looked up rather than linked (as OpenBLAS's thread control is): libtorch loads
// oneDNN, and whether its sgemm is visible depends on how that libtorch was built. Row-major:
// C = alpha op(A) op(B) + beta C.
using Sgemm = int (*)(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
Sgemm onednn_sgemm() {
  static const Sgemm fn = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return fn;
}

std::atomic<GemmBackend>& backend_setting() {
  static std::atomic<GemmBackend> backend{default_gemm_backend()};
  return backend;
}

// Whether products run under bf16 autocast here: it is on, and not excluded for this region (the
// evaluation head computes in fp32 with autocast's dispatch key excluded).
bool autocast_bf16() {
  return autocast_enabled(torch::kCPU) && autocast_dtype(torch::kCPU) == torch::kBFloat16 &&
         !c10::impl::tls_is_dispatch_key_excluded(c10::DispatchKey::AutocastCPU);
}

bool use_onednn(const torch::Tensor& a, const torch::Tensor& b) {
  return gemm_backend() == GemmBackend::kOneDnn && a.device().is_cpu() && b.device().is_cpu() &&
         a.scalar_type() == torch::kFloat32 && b.scalar_type() == torch::kFloat32 && !autocast_bf16();
}

// A matrix operand as stored: `data` [batch, rows, cols] contiguous, and whether the logical
// operand is its transpose. A transposed view (k.transpose(-2, -1)) is read in place.
struct Operand {
  torch::Tensor data;
  bool transposed = false;
  int64_t rows() const { return transposed ? data.size(2) : data.size(1); }  // of the logical operand
  int64_t cols() const { return transposed ? data.size(1) : data.size(2); }
};

Operand as_operand(const torch::Tensor& x) {  // x [batch, rows, cols]
  if (x.is_contiguous()) return {x, false};
  auto xt = x.transpose(1, 2);
  if (xt.is_contiguous()) return {xt, true};
  return {x.contiguous(), false};
}

// C[i] = op(A[i]) op(B[i]) for every i of the batch, into a new [batch, M, N] tensor (allocated
// with `out_sizes` when given: the same memory, but no view for in-place ops to trip over). Many small
// products (attention heads) run in parallel, one single-threaded sgemm each (oneDNN runs
// single-threaded inside a parallel region); a few large ones (fused seeds) use every thread each.
torch::Tensor gemm(const Operand& a, const Operand& b, at::IntArrayRef out_sizes = {}) {
  const int64_t batch = a.data.size(0), M = a.rows(), K = a.cols(), N = b.cols();
  TORCH_CHECK(b.data.size(0) == batch && b.rows() == K, "matmul: shapes do not match");
  auto c = out_sizes.empty() ? torch::empty({batch, M, N}, a.data.options()) : torch::empty(out_sizes, a.data.options());
  if (c.numel() == 0) return c;
  if (K == 0) return c.zero_();
  const float *A = a.data.data_ptr<float>(), *B = b.data.data_ptr<float>();
  float* C = c.data_ptr<float>();
  const int64_t lda = a.data.size(2), ldb = b.data.size(2);
  const char ta = a.transposed ? 'T' : 'N', tb = b.transposed ? 'T' : 'N';
  auto one = [&](int64_t i) {
    const int status =
        onednn_sgemm()(ta, tb, M, N, K, 1.0f, A + i * M * K, lda, B + i * K * N, ldb, 0.0f, C + i * M * N, N);
    TORCH_CHECK(status == 0, "oneDNN sgemm failed with status ", status);
  };
  if (batch >= 4 * at::get_num_threads()) {
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
  return c;
}

Operand transpose(Operand x) {
  x.transposed = !x.transposed;
  return x;
}

// C = op(A) op(B) for a, b [batch, m, k], [batch, k, n], returned as out_sizes. The gradients dA = dC op(B)^T and
// dB = op(A)^T dC come from the same sgemm with the transpose flags flipped, each computed in its
// operand's stored layout (a weight's gradient comes out [out, in], like the weight).
struct OneDnnMatmul : public torch::autograd::Function<OneDnnMatmul> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b,
                               const std::vector<int64_t>& out_sizes) {
    const Operand A = as_operand(a), B = as_operand(b);
    ctx->save_for_backward({A.data, B.data});
    ctx->saved_data["transposed_a"] = A.transposed;
    ctx->saved_data["transposed_b"] = B.transposed;
    return gemm(A, B, out_sizes);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Operand A{saved[0], ctx->saved_data["transposed_a"].toBool()};
    const Operand B{saved[1], ctx->saved_data["transposed_b"].toBool()};
    const Operand dC{grads[0].contiguous().view({A.data.size(0), A.rows(), B.cols()}), false};
    torch::Tensor da, db;
    if (ctx->needs_input_grad(0))
      da = A.transposed ? gemm(B, transpose(dC)).transpose(1, 2) : gemm(dC, transpose(B));
    if (ctx->needs_input_grad(1))
      db = B.transposed ? gemm(transpose(dC), A).transpose(1, 2) : gemm(transpose(A), dC);
    return {da, db, torch::Tensor()};
  }
};

torch::Tensor onednn_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.dim() >= 2 && a.dim() == b.dim() && a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2),
              "matmul: a [..., m, k] and b [..., k, n] need the same batch sizes");
  const int64_t batch = c10::multiply_integers(a.sizes().slice(0, a.dim() - 2));
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  auto sizes = a.sizes().vec();
  sizes.back() = n;
  return OneDnnMatmul::apply(a.reshape({batch, m, k}), b.reshape({batch, k, n}), sizes);
}

}  // namespace

const std::vector<Named<GemmBackend>>& Vocabulary<GemmBackend>::entries() {
  static const std::vector<Named<GemmBackend>> table = {
      {GemmBackend::kOneDnn, "onednn", "oneDNN's sgemm for fp32 CPU products (where libtorch's oneDNN exports it)"},
      {GemmBackend::kLibtorch, "libtorch", "libtorch's own matmul (the system BLAS for fp32)"},
  };
  return table;
}

GemmBackend default_gemm_backend() {
  return onednn_sgemm() ? GemmBackend::kOneDnn : GemmBackend::kLibtorch;
}

GemmBackend gemm_backend() { return backend_setting().load(); }

const char* gemm_backend_name(GemmBackend backend) {
  return backend == GemmBackend::kOneDnn ? "onednn-sgemm" : "libtorch";
}

GemmBackendScope::GemmBackendScope(GemmBackend backend) : previous_(gemm_backend()) {
  backend_setting().store(onednn_sgemm() ? backend : GemmBackend::kLibtorch);
}

GemmBackendScope::~GemmBackendScope() { backend_setting().store(previous_); }

torch::Tensor matmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (use_onednn(a, b)) return onednn_matmul(a, b);
  return torch::matmul(a, b);
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight) {
  if (!use_onednn(x, weight)) return torch::nn::functional::linear(x, weight);
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  return OneDnnMatmul::apply(x.reshape({1, -1, x.size(-1)}), weight.t().unsqueeze(0), sizes);
}

}  // namespace lb
