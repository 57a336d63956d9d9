// What `run` settles before its first training step: every check the config and the data's size
// allow (passkey prompt sizes, training and fine-tune windows, memory), and the work ahead with a
// time estimate from a short calibration, so nothing fails or surprises an hour in.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/data/corpus.h"
#include "harness/model/model.h"
#include "harness/model/precision.h"

namespace lb {

// Peak memory of training or evaluating one run, in bytes, from the model's shape (parameters,
// gradients and AdamW moments; activations kept for backward at the training and fine-tune
// lengths; one layer's attention scores at the longest eval length). A deliberate overestimate:
// fp32 activations and a fixed runtime overhead.
struct MemoryEstimate {
  double parameters = 0;
  double model_state_bytes = 0, train_activation_bytes = 0, eval_activation_bytes = 0, runtime_bytes = 0;
  double total() const;
  std::string describe() const;
};
MemoryEstimate estimate_memory(const Config& c, const RunSpec& run, int64_t vocab, int64_t max_length);
double available_memory_bytes();  // MemAvailable from /proc/meminfo (0 if unknown)

// Throws ConfigError (bad sizes) or ResourceError (memory) naming the key or run.
// On CUDA the model lives in device memory, which the estimate does not model: no memory check there.
void check_before_training(const Config& c, const Corpus& corpus, const std::vector<const RunSpec*>& runs,
                           int64_t max_length, torch::Device device);

// Tokens the run will train on (not yet trained) and run through the model in evaluation.
struct Workload {
  int64_t train_tokens = 0;
  int64_t eval_tokens = 0;
};
// Training tokens/s of `model` at the config's length and batch, from a few forward+backward
// steps (no optimizer step; the model is left as it was).
double calibrate_training(GPT& model, const BatchSource& batches, const Config& c, const Compute& compute);
// Evaluation tokens/s of `model` at the longest eval length (the slowest per token), from one timed
// batch of eval.batch_tokens under InferenceMode after a warm-up.
double calibrate_evaluation(GPT& model, const Config& c, int64_t vocab, int64_t max_length, const Compute& compute);
// "about 12 min (3.7M training tokens at ~6.1k tokens/s measured on 3 steps, 4.9M evaluation
// tokens at ~9.8k tokens/s or faster)"
nlohmann::json describe_estimate(const Workload& work, double train_tokens_per_second,
                                 double eval_tokens_per_second);

}  // namespace lb
