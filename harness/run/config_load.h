// A checked configuration: the config layer reads the file's shape and types
// (harness/config/config.h), then each layer checks its own section, in dependency order.
#pragma once
#include <string>
#include <vector>

#include "harness/config/config.h"

namespace lb {

Config parse_config(const nlohmann::json& user);
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace lb
