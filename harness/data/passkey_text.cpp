#include "harness/data/passkey_text.h"

#include <fmt/format.h>
#include <algorithm>
#include <stdexcept>

namespace lb {

namespace {

const std::string kFiller = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
const std::string kAsk = "What is the pass key? The pass key is";

std::vector<int32_t> needle_ids(const Tokenizer& tokenizer, const std::string& key) {
  return tokenizer.encode("The pass key is " + key + ". Remember it. " + key + " is the pass key. ");
}

}  // namespace

int64_t passkey_min_length(const Tokenizer& tokenizer, const std::string& key) {
  return int64_t(needle_ids(tokenizer, key).size() + tokenizer.encode(kAsk + " " + key).size()) - 1;
}

PasskeyPrompt passkey_prompt(const Tokenizer& tokenizer, int64_t T, double depth, const std::string& key) {
  const std::string& ask = kAsk;
  const auto filler_ids = tokenizer.encode(kFiller);
  const auto needle = needle_ids(tokenizer, key);
  const auto question = tokenizer.encode(ask + " " + key);
  // The key's tokens are what follows the question's own tokens; subword tokenizers may attach
  // the space to the key or not, so both cuts are tried.
  PasskeyPrompt prompt;
  for (const std::string& stem : {ask + " ", ask}) {
    const auto head = tokenizer.encode(stem);
    if (head.size() < question.size() && std::equal(head.begin(), head.end(), question.begin())) {
      prompt.answer_tokens = int64_t(question.size() - head.size());
      break;
    }
  }
  if (prompt.answer_tokens == 0)
    throw std::invalid_argument("passkey probe: the tokenizer does not split the question from the key");
  const int64_t room = T + 1 - int64_t(needle.size() + question.size());
  if (room < 0)
    throw std::invalid_argument(fmt::format("passkey probe needs windows of at least {} tokens, not {}",
                                            passkey_min_length(tokenizer, key), T));
  auto fill = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) prompt.ids.push_back(filler_ids[size_t(i) % filler_ids.size()]);
  };
  const int64_t before = std::llround(depth * double(room));
  fill(before);
  prompt.ids.insert(prompt.ids.end(), needle.begin(), needle.end());
  fill(room - before);
  prompt.ids.insert(prompt.ids.end(), question.begin(), question.end());
  return prompt;
}

}  // namespace lb
