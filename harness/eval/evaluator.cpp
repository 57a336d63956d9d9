#include "harness/eval/evaluator.h"

#include <fmt/format.h>

#include "harness/data/files.h"
#include "harness/model/precision.h"

namespace lb {

using nlohmann::json;

namespace {

json buckets_json(const std::vector<Bucket>& buckets) {
  json b = json::array();
  for (const auto& x : buckets)
    b.push_back({{"start", x.start}, {"end", x.end}, {"nll", x.nll}, {"tokens", x.tokens}});
  return b;
}

// Mean nll per bin of window positions.
std::vector<Bucket> bin_positions(const torch::Tensor& sum, const torch::Tensor& count, int64_t width) {
  std::vector<Bucket> out;
  const int64_t T = sum.numel();
  for (int64_t s = 0; s < T; s += width) {
    const int64_t e = std::min(T, s + width);
    Bucket b{s, e, 0, int64_t(count.narrow(0, s, e - s).sum().item<double>())};
    b.nll = b.tokens > 0 ? sum.narrow(0, s, e - s).sum().item<double>() / double(b.tokens) : 0.0;
    out.push_back(b);
  }
  return out;
}

}  // namespace

json EvalResult::to_json() const {
  json c = json::array();
  for (const auto& x : curve) c.push_back({x.start, x.nll});
  std::vector<double> rounded;  // 1e-6 nats is far below any difference worth reporting
  for (double v : window_nll) rounded.push_back(std::round(v * 1e6) / 1e6);
  return {{"eval_length", eval_length}, {"protocol", protocol},   {"ppl", ppl},
          {"nll", nll},                 {"nll_stderr", nll_stderr}, {"tokens", tokens},
          {"windows", windows},         {"last_l_nll", last_l_nll}, {"last_l_ppl", std::exp(last_l_nll)},
          {"last_l_tokens", last_l_tokens}, {"buckets", buckets_json(buckets)},
          {"curve", c},
          {"per_window", {{"nll_sum", rounded}, {"tokens", window_tokens}}}};
}

double clustered_stderr(const torch::Tensor& window_sums, const torch::Tensor& window_counts) {
  auto sums = window_sums.to(torch::kFloat64), counts = window_counts.to(torch::kFloat64);
  const int64_t W = sums.numel();
  if (W < 2) return 0.0;
  const double n = counts.sum().item<double>();
  const double mean = sums.sum().item<double>() / n;
  const double ss = (sums - counts * mean).pow(2).sum().item<double>();
  return std::sqrt(double(W) / double(W - 1) * ss) / n;
}

EvalResult evaluate(GPT& model, const torch::Tensor& held_out, int64_t T, const EvalOptions& opt) {
  if (held_out.numel() < opt.tokens + 1)
    throw std::invalid_argument(fmt::format("held-out stream has {} tokens, {} needed", held_out.numel(), opt.tokens + 1));
  const auto window_plan = plan_windows(opt.protocol, opt.tokens, T, opt.stride);
  const auto plan_starts = torch::tensor(window_plan.starts, torch::kInt64);
  const auto plan_score_from = torch::tensor(window_plan.score_from, torch::kInt64);
  const int64_t W = plan_starts.numel();
  const int64_t batch = std::max<int64_t>(1, opt.batch_tokens / T);
  const auto positions = torch::arange(T, torch::kInt64);
  const auto offsets = torch::arange(T + 1, torch::kInt64);

  auto position_sum = torch::zeros({T}, torch::kFloat64), position_count = torch::zeros({T}, torch::kFloat64);
  std::vector<torch::Tensor> window_sums, window_counts;

  torch::InferenceMode inference;
  model->eval();
  for (int64_t first = 0; first < W; first += batch) {
    const int64_t n = std::min(batch, W - first);
    auto starts = plan_starts.narrow(0, first, n);
    auto rows = token_ids(held_out.index({starts.unsqueeze(1) + offsets})).to(opt.device);
    torch::Tensor nll;
    {
      AutocastScope autocast(opt.bf16, opt.device);
      nll = token_nll(model->forward(rows.narrow(1, 0, T)), rows.narrow(1, 1, T));
    }
    nll = nll.to(torch::kCPU, torch::kFloat64);
    auto scored = (positions.unsqueeze(0) >= plan_score_from.narrow(0, first, n).unsqueeze(1)).to(torch::kFloat64);
    auto masked = nll * scored;
    position_sum += masked.sum(0);
    position_count += scored.sum(0);
    window_sums.push_back(masked.sum(1));
    window_counts.push_back(scored.sum(1));
  }

  EvalResult r;
  r.eval_length = T;
  r.protocol = opt.protocol;
  r.windows = W;
  r.tokens = position_count.sum().item<int64_t>();
  r.nll = position_sum.sum().item<double>() / double(r.tokens);
  r.ppl = std::exp(r.nll);
  const auto sums = torch::cat(window_sums), counts = torch::cat(window_counts);
  r.nll_stderr = clustered_stderr(sums, counts);
  r.window_nll.assign(sums.data_ptr<double>(), sums.data_ptr<double>() + W);
  const auto counts64 = counts.to(torch::kInt64);
  r.window_tokens.assign(counts64.data_ptr<int64_t>(), counts64.data_ptr<int64_t>() + W);
  const int64_t L = std::min(opt.train_length > 0 ? opt.train_length : T, T);
  const double last_count = position_count.narrow(0, T - L, L).sum().item<double>();
  r.last_l_tokens = int64_t(last_count);
  r.last_l_nll = last_count > 0 ? position_sum.narrow(0, T - L, L).sum().item<double>() / last_count : 0.0;
  r.buckets = bin_positions(position_sum, position_count, opt.bucket_width > 0 ? opt.bucket_width : T);
  r.curve = bin_positions(position_sum, position_count, std::max<int64_t>(1, T / 64));
  return r;
}

}  // namespace lb
