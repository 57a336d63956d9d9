// Everything a config asks of one trained model's evaluation: every text protocol at every
// length on the evaluation sample (evaluator.h), or every task at every length (task_eval.h),
// and the passkey probe (passkey.h). The options of each are built from the config here, once.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/data/corpus.h"
#include "harness/eval/evaluator.h"
#include "harness/eval/passkey.h"
#include "harness/eval/task_eval.h"
#include "harness/model/precision.h"

namespace lb {

EvalOptions eval_options(const Config& c, Protocol protocol, const Compute& compute);
TaskEvalOptions task_eval_options(const Config& c, const Compute& compute);
PasskeyOptions passkey_options(const Config& c, const Corpus& corpus, const Compute& compute);

// One model's evaluation records: {"results": [...]} and, when the probe is on, {"passkey": [...]}.
// `label` names the model in progress lines. Throws NumericError on a non-finite nll.
nlohmann::json evaluate_model(const Config& c, const std::string& label, GPT& model, const Corpus& corpus,
                              const std::vector<int64_t>& lengths, const EvalSample& sample, const Compute& compute);

// Forward tokens one length's text evaluation of the sample costs under `protocol`.
int64_t eval_forward_tokens(const Config& c, const EvalSample& sample, Protocol protocol, int64_t T);

}  // namespace lb
