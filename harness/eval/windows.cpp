#include "harness/eval/windows.h"

#include <fmt/format.h>
#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>

namespace lb {

WindowPlan plan_windows(Protocol protocol, int64_t tokens, int64_t T, int64_t stride) {
  if (tokens < T) throw std::invalid_argument(fmt::format("{} tokens cannot fill one window of {}", tokens, T));
  if (protocol == Protocol::kNonoverlapping) stride = T;
  else if (protocol != Protocol::kSliding)
    throw std::invalid_argument(fmt::format("protocol \"{}\" has no window plan", name_of(protocol)));
  if (stride <= 0 || stride > T) throw std::invalid_argument(fmt::format("stride must be in [1, {}], got {}", T, stride));
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + T <= tokens; s += stride) starts.push_back(s);
  if (starts.back() + T < tokens) starts.push_back(tokens - T);
  std::vector<int64_t> score_from(starts.size(), 0);
  for (size_t w = 1; w < starts.size(); ++w) score_from[w] = starts[w - 1] + T - starts[w];
  return {starts, score_from};
}

WindowPlan plan_sliding_with_context(int64_t chunk, int64_t T, int64_t stride) {
  // Sliding windows over [S - T, chunk) with the first window scoring only its last S tokens.
  const int64_t before = T - stride;
  WindowPlan plan = plan_windows(Protocol::kSliding, chunk + before, T, stride);
  plan.score_from[0] = before;
  for (auto& s : plan.starts) s -= before;
  return plan;
}

WindowPlan plan_for(Protocol protocol, int64_t chunk, int64_t T, int64_t stride) {
  // The recurrent protocol reads the same windows as non-overlapping, segment by segment inside each.
  return protocol == Protocol::kSliding ? plan_sliding_with_context(chunk, T, stride)
                                        : plan_windows(Protocol::kNonoverlapping, chunk, T, stride);
}

int64_t default_sliding_stride(int64_t train_length) { return std::max<int64_t>(1, train_length / 2); }

int64_t lcm_of(const std::vector<int64_t>& lengths) {
  int64_t lcm = 1;
  for (int64_t T : lengths) lcm = std::lcm(lcm, T);
  return lcm;
}

int64_t document_of(const std::vector<int64_t>& document_starts, int64_t position) {
  return int64_t(std::upper_bound(document_starts.begin(), document_starts.end(), position) - document_starts.begin()) - 1;
}

ClusterUnit cluster_unit(int64_t cluster_tokens, const std::string& separator, const std::vector<int64_t>& document_starts,
                         int64_t held_out_tokens, int64_t longest_window) {
  if (cluster_tokens <= 0 && document_starts.size() >= 2)
    return {document_starts, "document",
            separator.empty() ? "held-out documents"
                              : fmt::format("held-out documents, cut at every line matching data.document_separator {}",
                                            separator)};
  const int64_t block = cluster_tokens > 0 ? cluster_tokens : 8 * longest_window;
  ClusterUnit u{{}, "block", ""};
  for (int64_t start = 0; start < std::max<int64_t>(held_out_tokens, 1); start += block) u.starts.push_back(start);
  u.rule = fmt::format("contiguous blocks of {} tokens of the held-out stream ({}; batch means: assumes dependence "
                       "between tokens decays within a block)", block,
                       cluster_tokens > 0 ? "data.cluster_tokens"
                                          : fmt::format("8x the longest window, as the held-out split holds {} document",
                                                        document_starts.size()));
  return u;
}

EvalSample sample_evaluation(SampleKind kind, int64_t held_out_tokens,
                             const std::vector<int64_t>& document_starts, const std::vector<int64_t>& lengths,
                             int64_t budget, uint64_t seed, int64_t context) {
  EvalSample s;
  s.kind = kind;
  s.chunk = lcm_of(lengths);
  s.context = context;
  const int64_t P = context;
  s.document_starts = document_starts.empty() ? std::vector<int64_t>{0} : document_starts;
  const int64_t C = s.chunk;
  // Candidate chunk starts; each needs C + 1 tokens (inputs and the last target).
  std::vector<int64_t> candidates;
  if (kind == SampleKind::kStream) {
    for (int64_t start = P; start + C + 1 <= held_out_tokens; start += C) candidates.push_back(start);
    if (!candidates.empty() && candidates.back() + C + 1 < held_out_tokens) candidates.push_back(held_out_tokens - C - 1);
    if (candidates.empty())
      throw std::invalid_argument(fmt::format(
          "the held-out split has {} tokens; scoring the same tokens at every eval length needs at least {} "
          "(a multiple of every length, plus one{}) -- raise data.held_out_fraction, use more data, or change "
          "eval.lengths",
          held_out_tokens, P + C + 1, P > 0 ? fmt::format(", plus {} tokens of sliding-window context", P) : ""));
  } else {
    int64_t longest = 0;
    for (size_t d = 0; d < s.document_starts.size(); ++d) {
      const int64_t end = d + 1 < s.document_starts.size() ? s.document_starts[d + 1] : held_out_tokens;
      longest = std::max(longest, end - s.document_starts[d]);
      if (end - s.document_starts[d] >= P + C + 1) candidates.push_back(s.document_starts[d] + P);
    }
    if (candidates.empty())
      throw std::invalid_argument(fmt::format(
          "eval.sample \"documents\" scores documents of at least {} tokens (a multiple of every eval length, "
          "plus one{}), but the longest held-out document has {} -- use eval.sample \"stream\" or shorter "
          "eval.lengths",
          P + C + 1, P > 0 ? fmt::format(", plus {} tokens of sliding-window context", P) : "", longest));
  }
  s.eligible_documents = kind == SampleKind::kDocuments ? int64_t(candidates.size()) : int64_t(s.document_starts.size());
  // A partial Fisher-Yates shuffle: the first k candidates of one fixed permutation, so a larger
  // budget keeps the chunks of a smaller one.
  const int64_t k = std::clamp<int64_t>(budget / C, 1, int64_t(candidates.size()));
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < k; ++i)
    std::swap(candidates[i], candidates[i + int64_t(rng() % uint64_t(int64_t(candidates.size()) - i))]);
  s.starts.assign(candidates.begin(), candidates.begin() + k);
  std::sort(s.starts.begin(), s.starts.end());
  std::set<int64_t> documents;  // of the scored targets: positions start + 1 ... start + C
  for (int64_t start : s.starts)
    for (int64_t d = document_of(s.document_starts, start + 1); d <= document_of(s.document_starts, start + C); ++d)
      documents.insert(d);
  s.documents = int64_t(documents.size());
  return s;
}

}  // namespace lb
