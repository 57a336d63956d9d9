// Papers' qualitative claims as checkable predicates over a report (configs/papers/*.json):
//   {"claim": "ALiBi does not degrade from L to 4L",
//    "left": {"run": "alibi", "length": 4}, "op": "~", "right": {"run": "alibi", "length": 1},
//    "tolerance": 0.05, "protocol": "nonoverlapping"}
// compares nll per token of `left` and `right` (lengths are multiples of L):
//   "<"  left is better (lower nll) than right by more than `margin` nats (default 0.01, ~1% ppl);
//   ">"  left is worse by more than `margin`;
//   "~"  they are within `tolerance` nats of each other (required).
// Verdicts account for noise. With d = nll(left) - nll(right), its standard error se and the
// interval d ± 2se, a claim is "held" when the whole interval satisfies it, "not held" when none
// of it does, and "inconclusive" otherwise. Every result of a report scores the same tokens, so
// se is paired: clustered over the finest groups of tokens that are whole windows on both sides
// (at equal lengths, the windows themselves; a 4L window against four L windows). When that
// leaves fewer than 10 clusters (e.g. sliding 1.5L against L, whose windows share only their
// first start) or a result lacks per-window sums (older reports), the two errors are combined
// instead; each verdict says which ("stderr_kind").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

// One verdict per claim: the claim's fields plus difference, stderr, verdict.
nlohmann::json evaluate_claims(const nlohmann::json& report);

// "held: <claim> (d = -0.015 ± 0.001 nats, paired)": one verdict as a line for logs and the CLI.
std::string verdict_line(const nlohmann::json& verdict);

}  // namespace lb
