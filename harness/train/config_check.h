// The train layer's part of config validation: "train" and "seeds".
#pragma once
#include "harness/config/config.h"

namespace lb {
void check_train_config(const Config& c);  // throws ConfigError naming the key
}  // namespace lb
