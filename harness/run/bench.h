// `lengthbench bench`: the C++ side of scripts/bench. Trains the same model shape as
// scripts/peer_gpt.py for a fixed number of steps after warm-up, then times evaluation at 4L, and
// measures this machine's GEMM peak. Prints one JSON line.
#pragma once
#include <nlohmann/json.hpp>

#include "harness/config/vocab.h"
#include "harness/model/matmul.h"

namespace lb {

struct BenchOptions {
  int64_t layers = 4, d_model = 128, heads = 4, length = 128, batch = 16;
  int64_t steps = 30, warmup = 5, eval_batches = 4, eval_tokens = 16384;
  int threads = 2;                  // set by the caller (use_threads); recorded here
  Precision precision = Precision::kAuto;
  std::string encoding = "rope";
  AttentionKind attention = AttentionKind::kSoftmax;  // linear: causal linear attention (chunked prefix sums)
  int64_t fused_seeds = 0;          // > 1: also time that many seeds trained as one fused model
  int64_t eval_length = 0;          // T of the timed evaluation (0 = 4L)
  bool eval_only = false;           // time evaluation only (no training): its speed and peak memory at T
  GemmBackend gemm = GemmBackend::kOneDnn;  // fp32 CPU matrix products (oneDNN where found)
};

nlohmann::json run_bench(const BenchOptions& options);
// Best achieved FLOP/s of a square GEMM of size n in the given dtype, through the model's matmul
// with the given backend for fp32 (bf16 always takes libtorch's, i.e. oneDNN's bf16 GEMM).
double gemm_peak(int64_t n, torch::ScalarType dtype, GemmBackend backend, int repeats);

}  // namespace lb
