// Options of an encoding or a scaling: every key has a default, unknown keys are errors, values
// are numbers. One rule for both (the registry and the scaling table hold the defaults).
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace lb {

// `defaults` overlaid with `given`; throws std::invalid_argument naming `owner` (e.g.
// `encoding "rope"`) and the allowed keys.
inline nlohmann::json fill_options(const nlohmann::json& defaults, const nlohmann::json& given, const std::string& owner) {
  nlohmann::json options = defaults;
  for (const auto& [key, value] : given.items()) {
    if (!defaults.contains(key)) {
      std::vector<std::string> allowed;
      for (const auto& [k, v] : defaults.items()) allowed.push_back(k);
      throw std::invalid_argument(fmt::format("{} has no option \"{}\"; allowed: {}", owner, key,
                                              allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))));
    }
    if (!value.is_number())
      throw std::invalid_argument(fmt::format("option \"{}\" of {} must be a number, got {}", key, owner, value.dump()));
    options[key] = value;
  }
  return options;
}

}  // namespace lb
