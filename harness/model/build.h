// The one construction path from a parsed config to a model: the encoding's spec, the model's
// shape, the seeded initialisation. The runner, the benchmark, `inspect` and the tests all build
// here, so a default lives only in the config's field list.
#pragma once
#include <string>

#include "encodings/encoding.h"
#include "harness/config/config.h"
#include "harness/model/model.h"

namespace lb {

// `max_length`: the longest sequence the model will see (sizes learned absolute tables).
EncodingSpec encoding_spec(const Config& c, const RunSpec& run, int64_t max_length);
// The model shape of `run` for a corpus of `vocab` tokens.
ModelConfig model_config(const Config& c, const RunSpec& run, int64_t vocab);
// Seeds the global generator with `seed`, so a config, encoding and seed always start from the
// same weights.
GPT build_model(const Config& c, const RunSpec& run, int64_t vocab, int64_t max_length, uint64_t seed);

// Parameters of the model a run trains, apart from its token embedding (which every model of a
// config shares): per block qkv + projection + MLP + two LayerNorms, the final LayerNorm, and a
// row per position for learned absolute tables (`max_length` rows). Other encodings' own
// parameters are negligible. For cost and memory estimates made before any model exists.
double non_embedding_parameters(const Config& c, const std::string& encoding, int64_t max_length);

}  // namespace lb
