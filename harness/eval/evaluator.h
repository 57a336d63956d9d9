// Perplexity evaluation of the evaluation sample (harness/eval/windows.h): non-overlapping or
// sliding windows inside each chunk, batched under InferenceMode, with per-position buckets and
// per-document sums (the unit the standard errors are clustered by).
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/eval/windows.h"
#include "harness/model/model.h"

namespace lb {

// How one model is scored at one length; built from the config by eval_options() (suite.h).
struct EvalOptions {
  Protocol protocol = Protocol::kNonoverlapping;
  int64_t stride = 0;          // sliding stride S
  int64_t bucket_width = 0;    // tokens per position bucket
  int64_t train_length = 0;    // L, for the last-L view
  int64_t batch_tokens = 0;    // tokens per forward batch
  bool bf16 = false;
  torch::Device device = torch::kCPU;
};

struct Bucket {
  int64_t start = 0, end = 0;  // window positions [start, end)
  double nll = 0;
  int64_t tokens = 0;
};

struct EvalResult {
  int64_t eval_length = 0;
  Protocol protocol = Protocol::kNonoverlapping;
  double nll = 0, nll_stderr = 0, ppl = 0;
  int64_t tokens = 0, windows = 0;
  double last_l_nll = 0;  // mean nll of scored tokens in the last L positions of each window
  int64_t last_l_tokens = 0;
  std::vector<Bucket> buckets;
  std::vector<Bucket> curve;  // finer bins (about 64 per window) for per-position loss plots
  // Per held-out document (index in the corpus's document list): sums of scored nll and scored
  // tokens. What the clustered error and paired comparisons between results need.
  std::string unit = "document";  // the cluster unit (harness/eval/windows.h)
  std::vector<int64_t> document_ids;
  std::vector<double> document_nll;
  std::vector<int64_t> document_tokens;
  nlohmann::json to_json() const;
};

// Scores every chunk of `sample` at length T; each length scores the same tokens.
EvalResult evaluate(GPT& model, const torch::Tensor& held_out, const EvalSample& sample, int64_t T,
                    const EvalOptions& options);

}  // namespace lb
