// Lookup in the name-keyed tables (encodings, scalings, tasks): their names in table order, and
// the entry of one name or an error naming the allowed ones. One rule for all three tables.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace lb {

template <class Entry>
std::vector<std::string> names_of(const std::vector<Entry>& table) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.push_back(entry.name);
  return names;
}

// `what` names the kind of entry in the error: "unknown <what> "x"; allowed: ...".
template <class Entry>
const Entry& find_named(const std::vector<Entry>& table, const std::string& name, const char* what) {
  for (const auto& entry : table)
    if (entry.name == name) return entry;
  throw std::invalid_argument(fmt::format("unknown {} \"{}\"; allowed: {}", what, name, fmt::join(names_of(table), ", ")));
}

}  // namespace lb
