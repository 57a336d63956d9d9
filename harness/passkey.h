// Passkey retrieval probe (Mohtashami & Jaggi 2023): a random number hidden at a chosen depth in
// filler text, asked for at the end of a window of T bytes. Scored by teacher forcing: a trial
// counts as retrieved when, at every digit of the key, the model's most likely next byte is the
// correct digit -- exactly what greedy decoding would produce. Small byte-level models mostly
// fail this; the probe measures whether any copying from far context survives at length T.
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "harness/model.h"

namespace lb {

struct PasskeyOptions {
  int64_t trials = 0;  // 0 = disabled
  std::vector<double> depths;
  int64_t digits = 5;
  uint64_t seed = 1234;
  bool bf16 = true;
  torch::Device device = torch::kCPU;
};

struct PasskeyResult {
  int64_t eval_length = 0;
  double depth = 0;
  int64_t trials = 0, retrieved = 0;
  double digit_nll = 0;  // mean nll of the key's digits
  nlohmann::json to_json() const;
};

// One passkey prompt of exactly T + 1 bytes; the key occupies the last `digits` bytes.
std::string passkey_prompt(int64_t T, double depth, const std::string& key);

std::vector<PasskeyResult> passkey_probe(GPT& model, int64_t T, const PasskeyOptions& options);

}  // namespace lb
