// The token cache: each text source is tokenized once (bytes or SentencePiece, trained here on
// the training split or loaded) into one token file per split beside a JSON manifest recording
// the source's state, the split, the tokenizer and the token counts and hashes. An entry is
// rebuilt when the source files, the tokenizer model or a token file changed; concurrent runs
// share it under a file lock.
#pragma once
#include <nlohmann/json.hpp>
#include <filesystem>
#include <string>

#include "harness/config/config.h"

namespace lb {

struct TokenCacheEntry {
  std::filesystem::path prefix;  // <cache_dir>/<name>; files are prefix + .json/.train.tokens/...
  nlohmann::json manifest;
  std::filesystem::path file(const std::string& part) const;  // "train", "held_out" or "held_out_documents"
};

// Opens the entry for (data config, format), building it first when missing or stale.
TokenCacheEntry open_token_cache(const DataConfig& c, const std::string& format);

}  // namespace lb
