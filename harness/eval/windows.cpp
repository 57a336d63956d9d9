#include "harness/eval/windows.h"

#include <fmt/format.h>
#include <numeric>
#include <stdexcept>

namespace lb {

WindowPlan plan_windows(const std::string& protocol, int64_t tokens, int64_t T, int64_t stride) {
  if (tokens < T) throw std::invalid_argument(fmt::format("{} tokens cannot fill one window of {}", tokens, T));
  if (protocol == "nonoverlapping") stride = T;
  else if (protocol != "sliding") throw std::invalid_argument(fmt::format("unknown protocol \"{}\"", protocol));
  if (stride <= 0 || stride > T) throw std::invalid_argument(fmt::format("stride must be in [1, {}], got {}", T, stride));
  // Windows at 0, S, 2S, ...; a final window flush with the end if the stride does not land there.
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + T <= tokens; s += stride) starts.push_back(s);
  if (starts.back() + T < tokens) starts.push_back(tokens - T);
  std::vector<int64_t> score_from(starts.size(), 0);
  for (size_t w = 1; w < starts.size(); ++w) score_from[w] = starts[w - 1] + T - starts[w];
  return {starts, score_from};
}

int64_t shared_eval_tokens(int64_t held_out_tokens, int64_t budget, const std::vector<int64_t>& lengths) {
  int64_t lcm = 1;
  for (int64_t T : lengths) lcm = std::lcm(lcm, T);
  const int64_t available = std::min(budget, held_out_tokens - 1);  // one extra token for the last target
  if (available < lcm)
    throw std::invalid_argument(fmt::format(
        "the held-out split has {} tokens; scoring the same tokens at every eval length needs at least {} "
        "(a multiple of every length, plus one) -- raise data.held_out_fraction or data.eval_tokens, use "
        "more data, or change eval.lengths",
        held_out_tokens, lcm + 1));
  return available / lcm * lcm;
}

}  // namespace lb
