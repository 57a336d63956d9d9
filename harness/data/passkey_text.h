// The passkey prompt (Mohtashami & Jaggi 2023): a random number hidden at a chosen depth in
// filler text, asked for at the end. Written here, in the data layer, because training rows
// (data.passkey_mix) and the probe (harness/eval/passkey.h) use the same prompt.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/data/tokenizer.h"

namespace lb {

struct PasskeyPrompt {
  std::vector<int32_t> ids;   // exactly T + 1 tokens
  int64_t answer_tokens = 0;  // the key: the last answer_tokens ids
};

// Filler, the needle at `depth` of the filler, and the question, each tokenized on its own and
// joined, so the prompt has exactly T + 1 tokens under any tokenizer.
PasskeyPrompt passkey_prompt(const Tokenizer& tokenizer, int64_t T, double depth, const std::string& key);
// The shortest T a prompt with this key fits in.
int64_t passkey_min_length(const Tokenizer& tokenizer, const std::string& key);

}  // namespace lb
