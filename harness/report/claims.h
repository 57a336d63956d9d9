// Papers' qualitative claims as checkable predicates over a report (configs/papers/*.json):
//   {"claim": "ALiBi does not degrade from L to 4L",
//    "left": {"run": "alibi", "length": 4}, "op": "~", "right": {"run": "alibi", "length": 1},
//    "tolerance": 0.05, "protocol": "nonoverlapping"}
// compares nll per token of `left` and `right` (lengths are multiples of L):
//   "<"  left is better (lower nll) than right by more than `margin` nats (default 0.01, ~1% ppl);
//   ">"  left is worse by more than `margin`;
//   "<=" left is not worse than right by more than `margin` (default 0.01): a non-inferiority claim;
//   "~"  they are within `tolerance` nats of each other (required).
// Verdicts account for noise (harness/statistics.h). With d = nll(left) - nll(right), its error se
// (paired by document and by training seed) and c the t quantile at its degrees of freedom, a
// claim is "held" when the whole interval d ± c·se satisfies it, "not held" when none of it does,
// and "inconclusive" otherwise -- also whenever the error is unknown: fewer than 2 documents, or
// separately trained models with fewer than 2 seeds each (the "reason" says which).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

// One verdict per claim: the claim's fields plus difference, stderr, verdict.
nlohmann::json evaluate_claims(const nlohmann::json& report);

// "held: <claim> (d = -0.015 ± 0.001 nats, paired by 30 documents and 3 seeds)": one verdict as a line.
std::string verdict_line(const nlohmann::json& verdict);

}  // namespace lb
