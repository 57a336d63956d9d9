#include "harness/eval/passkey.h"

#include <fmt/format.h>

#include "harness/core/schema.h"
#include "harness/data/passkey_text.h"
#include "harness/model/precision.h"

namespace lb {

nlohmann::json PasskeyResult::to_json() const {
  return {{key::eval_length, eval_length}, {key::depth, depth},         {key::trials, trials},
          {key::retrieved, retrieved},     {key::accuracy, trials ? double(retrieved) / trials : 0.0},
          {key::digit_nll, digit_nll}};
}

std::vector<PasskeyResult> passkey_probe(GPT& model, int64_t T, const PasskeyOptions& o) {
  torch::InferenceMode inference;
  model->eval();
  return passkey_probe([&](const torch::Tensor& tokens) {
    AutocastScope autocast(o.bf16, o.device);
    return inference_logits(model, tokens);
  }, T, o);
}

std::vector<PasskeyResult> passkey_probe(const LogitsFn& logits_of, int64_t T, const PasskeyOptions& o) {
  std::vector<PasskeyResult> results;
  if (o.trials <= 0) return results;
  auto gen = at::detail::createCPUGenerator(o.seed);
  torch::InferenceMode inference;
  for (double depth : o.depths) {
    auto key_digits = torch::randint(10, {o.trials, o.digits}, gen, torch::kInt64);
    key_digits.select(1, 0).clamp_min_(1);  // no leading zero: every key has `digits` digits
    auto rows = torch::empty({o.trials, T + 1}, torch::kInt32);
    auto is_answer = torch::zeros({o.trials, T}, torch::kBool);  // marks target positions of the key
    for (int64_t t = 0; t < o.trials; ++t) {
      std::string key;
      for (int64_t d = 0; d < o.digits; ++d) key += char('0' + key_digits[t][d].item<int64_t>());
      const auto prompt = passkey_prompt(*o.tokenizer, T, depth, key);
      std::memcpy(rows[t].data_ptr(), prompt.ids.data(), (T + 1) * sizeof(int32_t));
      is_answer[t].narrow(0, T - prompt.answer_tokens, prompt.answer_tokens).fill_(true);
    }
    rows = rows.to(torch::kInt64).to(o.device);
    is_answer = is_answer.to(o.device);
    const AnswerScores scores = score_answers(logits_of(rows.narrow(1, 0, T)), rows.narrow(1, 1, T), is_answer);
    PasskeyResult r;
    r.eval_length = T;
    r.depth = depth;
    r.trials = o.trials;
    r.retrieved = int64_t(scores.exact.sum().item<double>());
    r.digit_nll = scores.nll_sum.sum().item<double>() / double(scores.answer_tokens.sum().item<int64_t>());
    results.push_back(r);
  }
  return results;
}

}  // namespace lb
