// Options of an encoding or a scaling: every key has a default, unknown keys are errors, values
// are numbers (lists of numbers where the default is a list). One rule for both (the registry
// and the scaling table hold the defaults).
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace lb {

// A bad option, factor or setting, with the key it belongs to (callers turn it into
// `config key "runs[i].<key>"` or a flag's error).
struct OptionError : std::invalid_argument {
  OptionError(std::string key_, const std::string& message) : std::invalid_argument(message), key(std::move(key_)) {}
  std::string key;
};

// Whether `value` has the type of the option whose default is `like`.
inline bool option_value_ok(const nlohmann::json& like, const nlohmann::json& value) {
  if (!like.is_array()) return value.is_number();
  if (!value.is_array()) return false;
  for (const auto& v : value)
    if (!v.is_number()) return false;
  return true;
}

// `defaults` overlaid with `given`; throws OptionError naming `owner` (e.g. `encoding "rope"`)
// and the allowed keys.
inline nlohmann::json fill_options(const nlohmann::json& defaults, const nlohmann::json& given, const std::string& owner) {
  nlohmann::json options = defaults;
  for (const auto& [key, value] : given.items()) {
    if (!defaults.contains(key)) {
      std::vector<std::string> allowed;
      for (const auto& [k, v] : defaults.items()) allowed.push_back(k);
      throw OptionError(key, fmt::format("{} has no option \"{}\"; allowed: {}", owner, key,
                                              allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))));
    }
    if (!option_value_ok(defaults[key], value))
      throw OptionError(key, fmt::format("option \"{}\" of {} must be {}, got {}", key, owner,
                                              defaults[key].is_array() ? "a list of numbers" : "a number", value.dump()));
    options[key] = value;
  }
  return options;
}

}  // namespace lb
