// Perplexity evaluation on the held-out stream: non-overlapping or sliding windows, batched under
// InferenceMode, with per-position buckets and standard errors.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/eval/windows.h"
#include "harness/model/model.h"

namespace lb {

struct EvalOptions {
  std::string protocol = "nonoverlapping";  // or "sliding"
  int64_t tokens = 0;          // held-out tokens scored (the same for every length and run)
  int64_t stride = 0;          // sliding stride S
  int64_t bucket_width = 0;    // tokens per position bucket
  int64_t train_length = 0;    // L, for the last-L view
  int64_t batch_tokens = 16384;
  bool bf16 = true;
  torch::Device device = torch::kCPU;
};

struct Bucket {
  int64_t start = 0, end = 0;  // window positions [start, end)
  double nll = 0;
  int64_t tokens = 0;
};

struct EvalResult {
  int64_t eval_length = 0;
  std::string protocol;
  double nll = 0, nll_stderr = 0, ppl = 0;
  int64_t tokens = 0, windows = 0;
  double last_l_nll = 0;  // mean nll of scored tokens in the last L positions of each window
  int64_t last_l_tokens = 0;
  std::vector<Bucket> buckets;
  std::vector<Bucket> curve;  // finer bins (about 64 per window) for per-position loss plots
  // Per-window sums of scored nll and scored-token counts: what paired comparisons between runs
  // on the same windows need (lengthbench table --baseline).
  std::vector<double> window_nll;
  std::vector<int64_t> window_tokens;
  nlohmann::json to_json() const;
};

// Standard error of the mean over tokens, treating each window's tokens as one cluster:
// sqrt(W/(W-1) * sum_w (s_w - n_w * mean)^2) / N. Equals std(window means)/sqrt(W) for equal windows.
double clustered_stderr(const torch::Tensor& window_sums, const torch::Tensor& window_counts);

EvalResult evaluate(GPT& model, const torch::Tensor& held_out, int64_t T, const EvalOptions& options);

}  // namespace lb
