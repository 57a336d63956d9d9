// A corpus ready for training and evaluation: the memory-mapped train and held-out token streams
// of a data source (through the token cache, or nanoGPT .bin files as given), its tokenizer, and
// what the report records about it.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <memory>

#include "harness/config/config.h"
#include "harness/data/files.h"
#include "harness/data/sampler.h"
#include "harness/data/tokenizer.h"

namespace lb {

struct Corpus {
  torch::Tensor train;     // [N] uint8, int16 (uint16 ids viewed as int16) or int32 -- memory-mapped
  torch::Tensor held_out;  // [M] same dtype
  // Where each held-out document starts in `held_out` (ascending, first 0): the unit the
  // evaluation samples and clusters errors by. nanoGPT .bin files carry no boundaries: one entry.
  std::vector<int64_t> held_out_documents;
  int64_t vocab = 256;
  std::shared_ptr<const Tokenizer> tokenizer;  // null for pre-tokenized .bin files
  nlohmann::json summary;  // source, format, tokenizer, documents, split rule, token counts (for the report)
  BatchSource batches;     // training batches: windows of `train`, or generated task instances
};

// Loads the corpus, building its token cache first when the cache is missing or stale (source
// files changed, tokenizer changed). Throws DataError naming the file on bad data.
Corpus load_corpus(const DataConfig& config);
// The data a config trains on: its text corpus (with passkey rows mixed in at data.passkey_mix), or
// for data.task the synthetic tasks (no streams, no tokenizer; vocabulary kTaskVocab).
Corpus load_training_data(const Config& config);

}  // namespace lb
