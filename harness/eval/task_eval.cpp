#include "harness/eval/task_eval.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "harness/core/schema.h"
#include "harness/core/hash.h"
#include "harness/model/precision.h"
#include "harness/core/statistics.h"

namespace lb {

using nlohmann::json;

namespace {

template <class T>
std::vector<T> to_std(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

}  // namespace

json evaluate_task(const LogitsFn& logits_of, const std::string& task, int64_t T, const TaskEvalOptions& o) {
  const int64_t n = o.instances;
  const uint64_t seed = fnv1a(fmt::format("task evaluation/{}", o.seed));
  const int64_t batch = std::max<int64_t>(1, o.batch_tokens / T);
  auto nll_sum = torch::zeros({n}, torch::kFloat64), answer = torch::zeros({n}, torch::kInt64),
       hits = torch::zeros({n}, torch::kFloat64), exact = torch::zeros({n}, torch::kFloat64);
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t rows = std::min(batch, n - first);
    auto tokens = torch::empty({rows, T + 1}, torch::kInt32);
    auto mask = torch::empty({rows, T + 1}, torch::kUInt8);
    for (int64_t r = 0; r < rows; ++r) {
      const TaskInstance instance = make_task_instance(task, T + 1, seed, uint64_t(first + r), o.task);
      std::copy(instance.tokens.begin(), instance.tokens.end(), tokens[r].data_ptr<int32_t>());
      std::copy(instance.answer.begin(), instance.answer.end(), mask[r].data_ptr<uint8_t>());
    }
    tokens = tokens.to(torch::kInt64);
    mask = mask.to(torch::kBool);
    auto logits = logits_of(tokens.narrow(1, 0, T).to(o.device)).to(torch::kCPU, torch::kFloat32);
    const AnswerScores scores = score_answers(logits, tokens.narrow(1, 1, T), mask.narrow(1, 1, T));
    nll_sum.narrow(0, first, rows).copy_(scores.nll_sum);
    answer.narrow(0, first, rows).copy_(scores.answer_tokens);
    hits.narrow(0, first, rows).copy_(scores.hits);
    exact.narrow(0, first, rows).copy_(scores.exact);
  }
  const auto nll_v = to_std<double>(nll_sum), hits_v = to_std<double>(hits), exact_v = to_std<double>(exact);
  const auto tokens_v = to_std<int64_t>(answer);
  const std::vector<int64_t> ones(static_cast<size_t>(n), 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = i;
  const double answer_tokens = double(answer.sum().item<int64_t>());
  const double mean_nll = nll_sum.sum().item<double>() / answer_tokens;
  const double accuracy = exact.sum().item<double>() / double(n), token_accuracy = hits.sum().item<double>() / answer_tokens;
  auto se = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  std::vector<double> rounded;
  for (double v : nll_v) rounded.push_back(std::round(v * 1e6) / 1e6);
  return {{key::eval_length, T},
          {key::protocol, "task"},
          {key::task, task},
          {key::instances, n},
          {key::tokens, int64_t(answer_tokens)},
          {key::nll, mean_nll},
          {key::ppl, std::exp(mean_nll)},
          {key::nll_stderr, se(clustered_stderr(nll_v, tokens_v))},
          {key::accuracy, accuracy},
          {key::accuracy_stderr, se(clustered_stderr(exact_v, ones))},
          {key::token_accuracy, token_accuracy},
          {key::token_accuracy_stderr, se(clustered_stderr(hits_v, tokens_v))},
          {"per_document",
           {{key::unit, "instance"}, {key::ids, ids}, {key::nll_sum, rounded}, {key::tokens, tokens_v}, {key::accuracy_sum, exact_v},
            {key::sequences, ones}, {key::token_accuracy_sum, hits_v}}}};
}

json evaluate_task(GPT& model, const std::string& task, int64_t T, const TaskEvalOptions& o) {
  torch::InferenceMode inference;
  model->eval();
  return evaluate_task([&](const torch::Tensor& tokens) {
    AutocastScope autocast(o.bf16, o.device);
    return inference_logits(model, tokens);
  }, task, T, o);
}

}  // namespace lb
