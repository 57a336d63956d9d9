// Which held-out tokens each evaluation window covers and scores. Torch-free and deterministic,
// so reports can be re-checked (claims rebuild the plans) without the model code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lb {

// Windows of the held-out stream for length T: each has a start offset and the first window
// position it scores (earlier positions only give context).
struct WindowPlan {
  std::vector<int64_t> starts;
  std::vector<int64_t> score_from;
};
// "nonoverlapping": windows at 0, T, 2T, ...; "sliding": at 0, S, 2S, ... scoring only the tokens
// the previous window did not. A final window flush with the end when the stride does not land there.
WindowPlan plan_windows(const std::string& protocol, int64_t tokens, int64_t T, int64_t stride);

// Scored tokens shared by every length: the largest multiple of all eval lengths that fits the
// held-out stream and the budget. Throws with the number needed when the stream is too short.
int64_t shared_eval_tokens(int64_t held_out_tokens, int64_t budget, const std::vector<int64_t>& lengths);

}  // namespace lb
