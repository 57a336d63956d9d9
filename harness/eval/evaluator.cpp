#include "harness/eval/evaluator.h"

#include <fmt/format.h>

#include "harness/core/schema.h"
#include "harness/data/files.h"
#include "harness/model/precision.h"
#include "harness/core/statistics.h"

namespace lb {

using nlohmann::json;

namespace {

json buckets_json(const std::vector<Bucket>& buckets) {
  json b = json::array();
  for (const auto& x : buckets)
    b.push_back({{key::start, x.start}, {key::end, x.end}, {key::nll, x.nll}, {key::tokens, x.tokens}});
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
  for (double v : document_nll) rounded.push_back(std::round(v * 1e6) / 1e6);
  return {{key::eval_length, eval_length}, {key::protocol, name_of(protocol)}, {key::ppl, ppl},
          {key::nll, nll},                 {key::nll_stderr, std::isfinite(nll_stderr) ? json(nll_stderr) : json(nullptr)},
          {key::tokens, tokens},           {key::windows, windows},
          {key::last_l_nll, last_l_nll},   {key::last_l_ppl, std::exp(last_l_nll)},
          {key::last_l_tokens, last_l_tokens}, {key::buckets, buckets_json(buckets)},
          {key::curve, c},
          {key::per_document, {{key::unit, unit}, {key::ids, document_ids}, {key::nll_sum, rounded}, {key::tokens, document_tokens}}}};
}

EvalResult evaluate(GPT& model, const torch::Tensor& held_out, const EvalSample& sample, int64_t T,
                    const EvalOptions& opt) {
  const int64_t C = sample.chunk;
  if (C % T != 0) throw std::invalid_argument(fmt::format("chunk of {} tokens is not a multiple of T={}", C, T));
  // Every window of every chunk: its start in the stream and the first position it scores.
  const auto plan = plan_for(opt.protocol, C, T, opt.stride);
  std::vector<int64_t> starts, score_from;
  for (int64_t chunk : sample.starts) {
    if (chunk + C + 1 > held_out.numel() || chunk + plan.starts.front() < 0)
      throw std::invalid_argument(fmt::format("held-out stream has {} tokens; the chunk at {} needs [{}, {})",
                                              held_out.numel(), chunk, chunk + plan.starts.front(), chunk + C + 1));
    for (size_t w = 0; w < plan.starts.size(); ++w) {
      starts.push_back(chunk + plan.starts[w]);
      score_from.push_back(plan.score_from[w]);
    }
  }
  const auto plan_starts = torch::tensor(starts, torch::kInt64);
  const auto plan_score_from = torch::tensor(score_from, torch::kInt64);
  const auto document_starts = torch::tensor(sample.document_starts, torch::kInt64);
  const int64_t W = plan_starts.numel(), D = document_starts.numel();
  const int64_t batch = std::max<int64_t>(1, opt.batch_tokens / T);
  const auto positions = torch::arange(T, torch::kInt64);
  const auto offsets = torch::arange(T + 1, torch::kInt64);

  auto position_sum = torch::zeros({T}, torch::kFloat64), position_count = torch::zeros({T}, torch::kFloat64);
  auto document_sum = torch::zeros({D}, torch::kFloat64), document_count = torch::zeros({D}, torch::kFloat64);

  torch::InferenceMode inference;
  model->eval();
  // The recurrent protocol: each window read in segments of L with the model's memory.
  struct RecurrentScope {
    GPT& model;
    bool previous;
    ~RecurrentScope() { model->set_recurrent(previous); }
  } recurrent{model, model->recurrent()};
  model->set_recurrent(opt.protocol == Protocol::kRecurrent);
  for (int64_t first = 0; first < W; first += batch) {
    const int64_t n = std::min(batch, W - first);
    auto batch_starts = plan_starts.narrow(0, first, n);
    auto rows = token_ids(held_out.index({batch_starts.unsqueeze(1) + offsets})).to(opt.device);
    torch::Tensor nll;
    {
      AutocastScope autocast(opt.bf16, opt.device);
      nll = token_nll(inference_logits(model, rows.narrow(1, 0, T)), rows.narrow(1, 1, T));
    }
    nll = nll.to(torch::kCPU, torch::kFloat64);
    auto scored = (positions.unsqueeze(0) >= plan_score_from.narrow(0, first, n).unsqueeze(1)).to(torch::kFloat64);
    auto masked = nll * scored;
    position_sum += masked.sum(0);
    position_count += scored.sum(0);
    // Each target token counts for the document it belongs to.
    auto targets = batch_starts.unsqueeze(1) + positions.unsqueeze(0) + 1;
    auto document = torch::searchsorted(document_starts, targets, /*out_int32=*/false, /*right=*/true) - 1;
    document_sum.index_add_(0, document.flatten(), masked.flatten());
    document_count.index_add_(0, document.flatten(), scored.flatten());
  }

  EvalResult r;
  r.eval_length = T;
  r.protocol = opt.protocol;
  r.windows = W;
  r.tokens = position_count.sum().item<int64_t>();
  r.nll = position_sum.sum().item<double>() / double(r.tokens);
  r.ppl = std::exp(r.nll);
  const auto sums = document_sum.contiguous(), counts = document_count.to(torch::kInt64).contiguous();
  for (int64_t d = 0; d < D; ++d)
    if (counts.data_ptr<int64_t>()[d] > 0) {
      r.document_ids.push_back(d);
      r.document_nll.push_back(sums.data_ptr<double>()[d]);
      r.document_tokens.push_back(counts.data_ptr<int64_t>()[d]);
    }
  r.unit = sample.unit;
  r.nll_stderr = clustered_stderr(r.document_nll, r.document_tokens);
  const int64_t L = std::min(opt.train_length > 0 ? opt.train_length : T, T);
  const double last_count = position_count.narrow(0, T - L, L).sum().item<double>();
  r.last_l_tokens = int64_t(last_count);
  r.last_l_nll = last_count > 0 ? position_sum.narrow(0, T - L, L).sum().item<double>() / last_count : 0.0;
  r.buckets = bin_positions(position_sum, position_count, opt.bucket_width > 0 ? opt.bucket_width : T);
  r.curve = bin_positions(position_sum, position_count, std::max<int64_t>(1, T / 64));
  return r;
}

}  // namespace lb
