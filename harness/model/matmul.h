// The model's matrix products. In fp32 on the CPU they run in oneDNN's JIT sgemm on libtorch's
// OpenMP pool instead of libtorch 1.13's fp32 path (the system BLAS): at the model's shapes
// (2048 x 128 x 128 .. 2048 x 512 x 128) oneDNN's sgemm measured 180-230 GFLOP/s on 2 Zen cores
// against OpenBLAS's 85-200, and the attention's many small per-head products run in parallel
// over heads instead of one after another. Everything else -- bf16 autocast, CUDA, a libtorch
// without oneDNN's sgemm -- takes libtorch's own matmul, so those paths are unchanged.
#pragma once
#include <torch/torch.h>

#include "harness/core/vocab.h"

namespace lb {

// x [..., K] times weight [N, K] transposed -> [..., N]: torch::nn::functional::linear without bias.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight);
// a [..., m, k] @ b [..., k, n] with the same leading (batch) sizes; no broadcasting.
torch::Tensor matmul(const torch::Tensor& a, const torch::Tensor& b);

// Which implementation the two functions above use for fp32 CPU tensors.
enum class GemmBackend { kOneDnn, kLibtorch };
template <>
struct Vocabulary<GemmBackend> {
  static constexpr const char* what = "GEMM backend";
  static const std::vector<Named<GemmBackend>>& entries();
};
// kOneDnn where oneDNN's sgemm was found among the loaded libraries (libtorch loads oneDNN), else kLibtorch.
GemmBackend default_gemm_backend();
GemmBackend gemm_backend();
const char* gemm_backend_name(GemmBackend backend);

// Sets the backend for its lifetime (benchmarks and tests compare the two); kOneDnn where oneDNN's
// sgemm is missing falls back to kLibtorch.
class GemmBackendScope {
 public:
  explicit GemmBackendScope(GemmBackend backend);
  ~GemmBackendScope();
  GemmBackendScope(const GemmBackendScope&) = delete;
  GemmBackendScope& operator=(const GemmBackendScope&) = delete;

 private:
  GemmBackend previous_;
};

}  // namespace lb
