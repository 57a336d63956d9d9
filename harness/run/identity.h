// Identities: what determines a trained model's weights, hashed into checkpoint names and the
// report's "trained_model" ids. Two runs with the same trained_model evaluate the same weights
// (they differ only in inference-time settings); the id covers the training seeds, so two
// reports' runs with equal ids were trained from the same seeds.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/data/corpus.h"

namespace lb {

// Everything that determines the weights of `run`'s model trained with `seed` (its checkpoint
// is named by this).
nlohmann::json training_identity(const Config& c, const RunSpec& run, int64_t max_length, const Corpus& corpus,
                                 bool bf16, uint64_t seed);
// The id of the weights a run evaluates, over all its seeds: the training identity without the
// seed, the fine-tuning that follows, and the list of seeds.
std::string trained_model_id(const nlohmann::json& identity, const RunSpec& run, const std::vector<uint64_t>& seeds);
// The identity of a run's fine-tuned model.
nlohmann::json finetune_identity(const nlohmann::json& base_identity, const RunSpec& run);

std::string short_hash(const nlohmann::json& j);
// "<run> seed <s>": names one (run, seed) unit in shard lists and resumed reports.
std::string unit_name(const std::string& run, uint64_t seed);

}  // namespace lb
