// Corpora: read text (file, directory of files, JSONL) or token files (nanoGPT .bin), split
// documents deterministically into train and held-out, tokenize once (bytes or SentencePiece)
// into a token cache beside a JSON manifest, and memory-map the cached streams.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "harness/config.h"
#include "harness/tokenizer.h"

namespace lb {

struct Corpus {
  torch::Tensor train;     // [N] uint8, int16 (uint16 ids viewed as int16) or int32 -- memory-mapped
  torch::Tensor held_out;  // [M] same dtype
  int64_t vocab = 256;
  std::shared_ptr<const Tokenizer> tokenizer;  // null for pre-tokenized .bin files
  nlohmann::json summary;  // source, format, tokenizer, documents, split rule, token counts (for the report)
};

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Deterministic held-out membership of a document by name (FNV-1a hash), stable under additions.
bool is_held_out(const std::string& document, double fraction);
std::string detect_format(const std::string& path);

// Loads the corpus, building its token cache first when the cache is missing or stale (source
// files changed, tokenizer changed). Throws DataError naming the file on bad data.
Corpus load_corpus(const DataConfig& config);

// Token ids as int64 from a stored stream slice (undoes the int16 view of uint16 files).
torch::Tensor token_ids(const torch::Tensor& stored);

// Random training windows [B, T+1] (int64), drawn from `stream` with a generator seeded from
// (seed, step) so a resumed run sees the same batches.
torch::Tensor sample_windows(const torch::Tensor& stream, int64_t batch, int64_t length, uint64_t seed,
                             int64_t step);

}  // namespace lb
