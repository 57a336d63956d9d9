// The model layer's part of config validation: "model" (sizes) and every run entry against the
// encoding registry and the scaling table: names, options sorted into encoding and scaling
// options with their types, factor rules, exact_chunk, fine-tuning, list-valued options.
#pragma once
#include "harness/config/config.h"

namespace lb {
// Fills each run's encoding_options and scaling.options, and the resolved entries' "factor";
// throws ConfigError naming the key.
void check_model_config(Config& c);
}  // namespace lb
