// The generic half of configuration: structs that list their fields once
//   template <class Self, class Visit> static void fields(Self& s, Visit&& v) { v("steps", s.steps), ...; }
// get their JSON defaults, the type check of a user's file, and parsing from that list alone.
// Fields may be numbers, strings, bools, vocabulary enums (written as their names), nested
// structs with a field list, and vectors of those. No domain rules live here: each layer checks
// its own section once the types are right.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/core/errors.h"
#include "harness/core/vocab.h"

namespace lb {

struct ConfigError : InputError {
  using InputError::InputError;
};

namespace fields_detail {

struct NoVisit {
  template <class F>
  void operator()(const char*, F&) const {}
};
template <class T, class = void>
struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(T::fields(std::declval<T&>(), NoVisit{}))>> : std::true_type {};
template <class T, class = void>
struct is_vocabulary : std::false_type {};
template <class T>
struct is_vocabulary<T, std::void_t<decltype(Vocabulary<T>::entries())>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

}  // namespace fields_detail

template <class T>
nlohmann::json to_json_value(const T& value) {
  using namespace fields_detail;
  if constexpr (has_fields<T>::value) {
    nlohmann::json out = nlohmann::json::object();
    T::fields(value, [&](const char* key, const auto& field) { out[key] = to_json_value(field); });
    return out;
  } else if constexpr (is_vocabulary<T>::value) {
    return name_of(value);
  } else if constexpr (is_vector<T>::value) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(to_json_value(v));
    return out;
  } else {
    return nlohmann::json(value);
  }
}

// `j` has passed check_type against the defaults, so every conversion succeeds but a vocabulary
// word, whose error names `path` and the allowed words.
template <class T>
void from_json_value(const nlohmann::json& j, T& value, const std::string& path) {
  using namespace fields_detail;
  if constexpr (has_fields<T>::value) {
    T::fields(value, [&](const char* key, auto& field) {
      from_json_value(j.at(key), field, path.empty() ? key : path + "." + key);
    });
  } else if constexpr (is_vocabulary<T>::value) {
    try {
      value = parse_vocabulary<T>(j.get<std::string>());
    } catch (const std::invalid_argument&) {
      throw ConfigError(fmt::format("config key \"{}\" is {}; allowed: {}", path, j.dump(),
                                    fmt::join(vocabulary_names<T>(), ", ")));
    }
  } else if constexpr (is_vector<T>::value) {
    value.clear();
    for (size_t i = 0; i < j.size(); ++i) {
      typename T::value_type element{};
      from_json_value(j[i], element, fmt::format("{}[{}]", path, i));
      value.push_back(element);
    }
  } else {
    value = j.get<T>();
  }
}

// Checks `value` against the default's type: integers where the default is an integer, any
// number where it is a float, strings for strings, arrays element-wise by the first element.
void check_type(const std::string& key, const nlohmann::json& value, const nlohmann::json& like);
// Overlays `user` on `defaults`, rejecting keys the defaults do not have and values of the wrong type.
nlohmann::json merge_checked(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& prefix);

// A struct with a field list from the JSON a user wrote, defaults filled and types checked.
template <class T>
T parse_section(const nlohmann::json& user, const std::string& prefix) {
  T out{};
  from_json_value(merge_checked(to_json_value(T{}), user, prefix), out, prefix);
  return out;
}

// The small checks every section's validation writes (ConfigError naming the key).
inline void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}
inline void require_positive(const std::string& key, double value) {
  if (!(value > 0)) throw ConfigError(fmt::format("config key \"{}\" must be > 0, got {}", key, value));
}

}  // namespace lb
