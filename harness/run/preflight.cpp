#include "harness/run/preflight.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <fstream>

#include "harness/data/sampler.h"
#include "harness/data/passkey_text.h"
#include "harness/model/build.h"
#include "harness/train/trainer.h"

namespace lb {

using nlohmann::json;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kRuntimeBytes = 400e6;  // libtorch, allocator slack, mapped data pages (measured ~300 MB)

// Activations kept for backward by one block, per token: the residual stream, LayerNorm outputs,
// q/k/v and their rotations, attention output and projection (~10 C), the MLP's input, hidden
// and GELU (~2 x mlp_ratio C + C), and softmax input and output (2 H T).
double block_floats_per_token(const ModelConfig& m, int64_t T) {
  return double(10 + 2 * m.mlp_ratio + 1) * double(m.d_model) + 2.0 * double(m.heads) * double(T);
}

}  // namespace

double MemoryEstimate::total() const {
  return model_state_bytes + std::max(train_activation_bytes, eval_activation_bytes) + runtime_bytes;
}

std::string MemoryEstimate::describe() const {
  return fmt::format("{:.2f} GiB ({:.1f}M parameters with gradients and AdamW state {:.2f} GiB, training "
                     "activations {:.2f} GiB, evaluation {:.2f} GiB, runtime {:.2f} GiB)",
                     total() / kGiB, parameters / 1e6, model_state_bytes / kGiB, train_activation_bytes / kGiB,
                     eval_activation_bytes / kGiB, runtime_bytes / kGiB);
}

MemoryEstimate estimate_memory(const Config& c, const RunSpec& run, int64_t vocab, int64_t max_length) {
  const ModelConfig& m = c.model;
  const double C = double(m.d_model), V = double(vocab);
  MemoryEstimate e;
  e.parameters = V * C + non_embedding_parameters(c, run.encoding, max_length);  // embedding tied to the head
  e.model_state_bytes = 18.0 * e.parameters;  // fp32 weights, grads, two moments + bf16 copies
  auto training = [&](int64_t T, int64_t B) {
    const double tokens = double(B) * double(T);
    return 4.0 * tokens * (double(m.layers) * block_floats_per_token(m, T) + 3.0 * V);
  };
  e.train_activation_bytes = training(c.train.length, c.train.batch_size);
  if (run.finetune.steps > 0) {
    const int64_t T = c.eval_length(run.finetune.length);
    e.train_activation_bytes = std::max(e.train_activation_bytes,
                                        training(T, std::max<int64_t>(1, c.train.batch_size * c.train.length / T)));
  }
  // Evaluation: InferenceMode frees each layer's tensors, so one layer's scores (mask, scores,
  // probabilities) -- one block of query rows where they pass the score budget (attention.h) --
  // and the fp32 logits of one batch are live at a time: linear in T past the budget.
  const int64_t windows_n = std::max<int64_t>(1, c.eval.batch_tokens / max_length);
  const int64_t block = query_block_rows(windows_n, m.heads, max_length, true);
  const double T = double(max_length), windows = double(windows_n), rows = block > 0 ? double(block) : T;
  e.eval_activation_bytes = 4.0 * (3.0 * windows * double(m.heads) * rows * T + 2.0 * windows * T * V +
                                   windows * T * double(2 + m.mlp_ratio) * C);
  e.runtime_bytes = kRuntimeBytes;
  return e;
}

double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024.0;
  return 0;
}

void check_before_training(const Config& c, const Corpus& corpus, const std::vector<const RunSpec*>& runs,
                           int64_t max_length, torch::Device device) {
  // Training windows, at L and at every fine-tune length.
  auto check_window = [&](int64_t T, const std::string& key) {
    if (!c.data.is_task() && corpus.train.numel() < T + 2)
      throw ConfigError(fmt::format("config key \"{}\": a training window of {} tokens needs at least {} training "
                                    "tokens; data.path has {}",
                                    key, T, T + 2, corpus.train.numel()));
  };
  check_window(c.train.length, "train.length");
  for (const RunSpec* run : runs)
    if (run->finetune.steps > 0) check_window(c.eval_length(run->finetune.length), "runs[" + run->name + "].finetune.length");
  // Passkey prompts must fit every eval length.
  if (c.eval.passkey.trials > 0 && corpus.tokenizer) {
    const std::string key(size_t(c.eval.passkey.digits), '7');
    for (int64_t T : c.eval_lengths()) {
      try {
        passkey_prompt(*corpus.tokenizer, T, 0.5, key);
      } catch (const std::invalid_argument& e) {
        throw ConfigError(fmt::format("config key \"eval.passkey\": {} (eval length {} = {} x train.length); lower "
                                      "eval.passkey.digits, raise train.length or set eval.passkey.trials to 0",
                                      e.what(), T, double(T) / double(c.train.length)));
      }
    }
  }
  // Memory, for the largest run. The estimate errs high (fp32 activations, a fixed runtime share),
  // so a run is refused only when even a quarter less would not fit; between the two it warns.
  // On CUDA the model lives in device memory, which this does not model: no check.
  const double available = device.is_cpu() ? available_memory_bytes() : 0;
  for (const RunSpec* run : runs) {
    const auto estimate = estimate_memory(c, *run, corpus.vocab, max_length);
    if (available <= 0 || estimate.total() <= available) continue;
    const std::string what = fmt::format("run \"{}\" needs about {}, but this machine has {:.2f} GiB available",
                                         run->name, estimate.describe(), available / kGiB);
    if (0.75 * estimate.total() > available)
      throw ResourceError(what + "; lower model.d_model / model.layers, train.batch_size, eval.batch_tokens or the "
                                 "longest eval length");
    spdlog::warn("{} (the estimate errs high; trying anyway)", what);
  }
}

namespace {
// CUDA work is queued: a timer read before it finishes measures nothing.
void wait_for(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}
}  // namespace

double calibrate_training(GPT& model, const BatchSource& batches, const Config& c, const Compute& compute) {
  const torch::Device device = compute.device;
  const bool bf16 = compute.bf16;
  model->to(device);
  model->train();
  constexpr int kWarmup = 1, kTimed = 3;
  double seconds = 0;
  for (int step = 0; step < kWarmup + kTimed; ++step) {
    TrainBatch batch = batches(c.train.batch_size, c.train.length, c.seed, step);
    batch.tokens = batch.tokens.to(device);
    if (batch.weights.defined()) batch.weights = batch.weights.to(device);
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor loss;
    {
      AutocastScope autocast(bf16, device);
      loss = batch_loss(model->forward(batch.tokens.narrow(1, 0, c.train.length)), batch);
    }
    loss.backward();
    wait_for(device);
    if (step >= kWarmup) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  model->zero_grad();
  return double(kTimed * c.train.batch_size * c.train.length) / std::max(seconds, 1e-9);
}

double calibrate_evaluation(GPT& model, const Config& c, int64_t vocab, int64_t max_length, const Compute& compute) {
  const torch::Device device = compute.device;
  const bool bf16 = compute.bf16;
  torch::InferenceMode inference;
  model->to(device);
  model->eval();
  AutocastScope autocast(bf16, device);
  const int64_t rows = std::max<int64_t>(1, c.eval.batch_tokens / max_length);
  // Any tokens time the same; these leave the global generator alone.
  const auto tokens = (torch::arange(rows * max_length, torch::kInt64) * 7919 % vocab).view({rows, max_length}).to(device);
  inference_logits(model, tokens);  // warm-up
  wait_for(device);
  const auto t0 = std::chrono::steady_clock::now();
  inference_logits(model, tokens);
  wait_for(device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  model->train();
  return double(rows * max_length) / std::max(seconds, 1e-9);
}

json describe_estimate(const Workload& work, double train_tps, double eval_tps) {
  // Evaluation is timed at the longest length, where a token costs the most: an upper bound.
  const double train_s = train_tps > 0 ? double(work.train_tokens) / train_tps : 0;
  const double eval_s = eval_tps > 0 ? double(work.eval_tokens) / eval_tps : 0;
  const double total = train_s + eval_s;
  json j = {{"train_tokens", work.train_tokens}, {"eval_tokens", work.eval_tokens},
            {"calibrated_train_tokens_per_second", train_tps}, {"calibrated_eval_tokens_per_second", eval_tps},
            {"estimated_seconds", total}};
  auto tokens = [](int64_t n) { return n >= 1000000 ? fmt::format("{:.1f}M", n / 1e6) : fmt::format("{:.0f}k", n / 1e3); };
  const std::string when = total < 90 ? fmt::format("{:.0f} s", total) : fmt::format("{:.0f} min", std::ceil(total / 60.0));
  j["line"] = fmt::format("estimate: about {} ({} training tokens at ~{:.1f}k tokens/s measured on 3 steps, {} "
                          "evaluation tokens at ~{:.1f}k tokens/s or faster)",
                          when, tokens(work.train_tokens), train_tps / 1e3, tokens(work.eval_tokens), eval_tps / 1e3);
  return j;
}

}  // namespace lb
