#include "harness/eval/passkey.h"

#include <fmt/format.h>

#include "harness/model/precision.h"

namespace lb {

nlohmann::json PasskeyResult::to_json() const {
  return {{"eval_length", eval_length}, {"depth", depth},         {"trials", trials},
          {"retrieved", retrieved},     {"accuracy", trials ? double(retrieved) / trials : 0.0},
          {"digit_nll", digit_nll}};
}

namespace {

const std::string kFiller = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
const std::string kAsk = "What is the pass key? The pass key is";

std::vector<int32_t> needle_ids(const Tokenizer& tokenizer, const std::string& key) {
  return tokenizer.encode("The pass key is " + key + ". Remember it. " + key + " is the pass key. ");
}

}  // namespace

int64_t passkey_min_length(const Tokenizer& tokenizer, const std::string& key) {
  return int64_t(needle_ids(tokenizer, key).size() + tokenizer.encode(kAsk + " " + key).size()) - 1;
}

PasskeyPrompt passkey_prompt(const Tokenizer& tokenizer, int64_t T, double depth, const std::string& key) {
  const std::string& ask = kAsk;
  const auto filler_ids = tokenizer.encode(kFiller);
  const auto needle = needle_ids(tokenizer, key);
  const auto question = tokenizer.encode(ask + " " + key);
  // The key's tokens are what follows the question's own tokens; subword tokenizers may attach
  // the space to the key or not, so both cuts are tried.
  PasskeyPrompt prompt;
  for (const std::string& stem : {ask + " ", ask}) {
    const auto head = tokenizer.encode(stem);
    if (head.size() < question.size() && std::equal(head.begin(), head.end(), question.begin())) {
      prompt.answer_tokens = int64_t(question.size() - head.size());
      break;
    }
  }
  if (prompt.answer_tokens == 0)
    throw std::invalid_argument("passkey probe: the tokenizer does not split the question from the key");
  const int64_t room = T + 1 - int64_t(needle.size() + question.size());
  if (room < 0)
    throw std::invalid_argument(fmt::format("passkey probe needs windows of at least {} tokens, not {}",
                                            passkey_min_length(tokenizer, key), T));
  auto fill = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) prompt.ids.push_back(filler_ids[size_t(i) % filler_ids.size()]);
  };
  const int64_t before = std::llround(depth * double(room));
  fill(before);
  prompt.ids.insert(prompt.ids.end(), needle.begin(), needle.end());
  fill(room - before);
  prompt.ids.insert(prompt.ids.end(), question.begin(), question.end());
  return prompt;
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
