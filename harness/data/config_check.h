// The data layer's part of config validation: "data" (sources, tokenizer, tasks, passkey mix).
#pragma once
#include "harness/config/config.h"

namespace lb {
// Throws ConfigError naming the key.
void check_data_config(const Config& c);
}  // namespace lb
