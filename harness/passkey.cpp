#include "harness/passkey.h"

#include <fmt/format.h>

#include "harness/trainer.h"

namespace lb {

nlohmann::json PasskeyResult::to_json() const {
  return {{"eval_length", eval_length}, {"depth", depth},         {"trials", trials},
          {"retrieved", retrieved},     {"accuracy", trials ? double(retrieved) / trials : 0.0},
          {"digit_nll", digit_nll}};
}

std::string passkey_prompt(int64_t T, double depth, const std::string& key) {
  static const std::string filler =
      "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
  const std::string needle = "The pass key is " + key + ". Remember it. " + key + " is the pass key. ";
  const std::string question = "What is the pass key? The pass key is " + key;
  const int64_t total = T + 1;
  const int64_t room = total - int64_t(needle.size() + question.size());
  if (room < 0)
    throw std::invalid_argument(fmt::format("passkey probe needs windows of at least {} tokens, not {}",
                                            needle.size() + question.size() - 1, T));
  auto fill = [&](int64_t n) {
    std::string s;
    while (int64_t(s.size()) < n) s += filler;
    return s.substr(0, n);
  };
  const int64_t before = std::llround(depth * double(room));
  return fill(before) + needle + fill(room - before) + question;
}

std::vector<PasskeyResult> passkey_probe(GPT& model, int64_t T, const PasskeyOptions& o) {
  std::vector<PasskeyResult> results;
  if (o.trials <= 0) return results;
  auto gen = at::detail::createCPUGenerator(o.seed);
  torch::InferenceMode inference;
  model->eval();
  for (double depth : o.depths) {
    auto key_digits = torch::randint(10, {o.trials, o.digits}, gen, torch::kInt64);
    key_digits.select(1, 0).clamp_min_(1);  // no leading zero: every key has `digits` digits
    std::vector<std::string> prompts;
    for (int64_t t = 0; t < o.trials; ++t) {
      std::string key;
      for (int64_t d = 0; d < o.digits; ++d) key += char('0' + key_digits[t][d].item<int64_t>());
      prompts.push_back(passkey_prompt(T, depth, key));
    }
    auto rows = torch::empty({o.trials, T + 1}, torch::kUInt8);
    for (int64_t t = 0; t < o.trials; ++t) std::memcpy(rows[t].data_ptr(), prompts[t].data(), T + 1);
    rows = rows.to(torch::kInt64).to(o.device);
    torch::Tensor logits;
    {
      AutocastScope autocast(o.bf16, o.device);
      logits = model->forward(rows.narrow(1, 0, T));
    }
    // Predictions for the last `digits` targets (the key), teacher-forced.
    auto key_logits = logits.narrow(1, T - o.digits, o.digits);
    auto key_targets = rows.narrow(1, T + 1 - o.digits, o.digits);
    auto hit = (key_logits.argmax(-1) == key_targets).all(1);
    PasskeyResult r;
    r.eval_length = T;
    r.depth = depth;
    r.trials = o.trials;
    r.retrieved = hit.sum().item<int64_t>();
    r.digit_nll = token_nll(key_logits, key_targets).mean().item<double>();
    results.push_back(r);
  }
  return results;
}

}  // namespace lb
