// The report's "evaluation" block: what the scored tokens (or task instances) are and how their
// errors are computed, in the words report.md shows.
#pragma once
#include <nlohmann/json.hpp>

#include "harness/config/config.h"
#include "harness/data/corpus.h"
#include "harness/eval/windows.h"

namespace lb {

// Fewer documents than this in the evaluation sample: a loud warning (their spread is itself noisy).
constexpr int64_t kFewDocuments = 20;

nlohmann::json evaluation_summary(const Config& c, const EvalSample& sample, const Corpus& corpus);
nlohmann::json task_evaluation_summary(const Config& c);

}  // namespace lb
