// The eval layer's part of config validation: "eval" (lengths, protocols, sample, sliding
// stride, buckets, passkey probe).
#pragma once
#include "harness/config/config.h"

namespace lb {
// Resolves eval.sliding_stride 0 to its default (in the struct and the resolved JSON); throws
// ConfigError naming the key.
void check_eval_config(Config& c);
}  // namespace lb
