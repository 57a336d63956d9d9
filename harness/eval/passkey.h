// Passkey retrieval probe (Mohtashami & Jaggi 2023): a random number hidden at a chosen depth in
// filler text, asked for at the end of a window of T tokens. Scored by teacher forcing: a trial
// counts as retrieved when, at every token of the key, the model's most likely next token is the
// correct one -- exactly what greedy decoding would produce. Small byte-level models mostly
// fail this; the probe measures whether any copying from far context survives at length T.
#pragma once
#include <nlohmann/json.hpp>
#include <functional>
#include <vector>

#include "harness/model/model.h"
#include "harness/data/passkey_text.h"
#include "harness/data/tokenizer.h"

namespace lb {

// Built from the config by passkey_options() (suite.h).
struct PasskeyOptions {
  int64_t trials = 0;  // 0 = disabled
  std::vector<double> depths;
  int64_t digits = 0;
  std::shared_ptr<const Tokenizer> tokenizer = byte_tokenizer();
  uint64_t seed = 0;
  bool bf16 = false;
  torch::Device device = torch::kCPU;
};

struct PasskeyResult {
  int64_t eval_length = 0;
  double depth = 0;
  int64_t trials = 0, retrieved = 0;
  double digit_nll = 0;  // mean nll of the key's tokens
  nlohmann::json to_json() const;
};

// Runs the probe on a model (eval mode, InferenceMode, the options' precision and device).
std::vector<PasskeyResult> passkey_probe(GPT& model, int64_t T, const PasskeyOptions& options);
// The same against any next-token scorer: tokens [B, T] int64 -> logits [B, T, V]. Tests plant
// scorers whose answers are known.
std::vector<PasskeyResult> passkey_probe(const LogitsFn& logits_of, int64_t T, const PasskeyOptions& options);

}  // namespace lb
