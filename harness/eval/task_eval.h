// Scoring a model on synthetic task instances (harness/data/tasks.h): instances of exactly T + 1
// tokens, scored by teacher forcing on their answer tokens only. An instance counts as correct
// when the most likely next token is right at every answer token -- exactly what greedy decoding
// of the answer would produce. Errors are clustered by instance (harness/statistics.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "harness/data/tasks.h"
#include "harness/model/model.h"

namespace lb {

// Built from the config by task_eval_options() (suite.h).
struct TaskEvalOptions {
  int64_t instances = 0;
  uint64_t seed = 0;  // evaluation instances are drawn from this, never from a training seed
  TaskConfig task;    // the tasks' options (queries, distractors)
  int64_t batch_tokens = 0;
  bool bf16 = false;
  torch::Device device = torch::kCPU;
};

// {"eval_length", "protocol": "task", "task", "instances", "tokens" (answer tokens), "nll", "ppl",
//  "accuracy" (per instance), "token_accuracy", each with "<metric>_stderr", and "per_document"
//  (unit "instance": ids, nll_sum, tokens, accuracy_sum, sequences, token_accuracy_sum)}.
nlohmann::json evaluate_task(const LogitsFn& logits_of, const std::string& task, int64_t T, const TaskEvalOptions& options);
// The same on a model (eval mode, InferenceMode, the options' precision and device).
nlohmann::json evaluate_task(GPT& model, const std::string& task, int64_t T, const TaskEvalOptions& options);

}  // namespace lb
