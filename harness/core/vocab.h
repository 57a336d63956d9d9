// Typed vocabularies: an enum and the one table of its names. Parsing (config keys, flags),
// listings, usage text and error messages all read the same table, so a word is spelled once and
// an error always lists what is allowed. A vocabulary is declared by specialising Vocabulary<E>:
//   template <> struct Vocabulary<Protocol> {
//     static constexpr const char* what = "protocol";
//     static const std::vector<Named<Protocol>>& entries();
//   };
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace lb {

template <class E>
struct Named {
  E value;
  const char* name;
  const char* description = "";
};

template <class E>
struct Vocabulary;  // specialised per enum: `what` (the word for errors) and entries()

template <class E>
std::vector<std::string> vocabulary_names() {
  std::vector<std::string> out;
  for (const auto& e : Vocabulary<E>::entries()) out.push_back(e.name);
  return out;
}

template <class E>
const char* name_of(E value) {
  for (const auto& e : Vocabulary<E>::entries())
    if (e.value == value) return e.name;
  return "?";
}

// "unknown <what> "x"; allowed: a, b, c" (std::invalid_argument) when `name` is not in the table.
template <class E>
E parse_vocabulary(const std::string& name) {
  for (const auto& e : Vocabulary<E>::entries())
    if (name == e.name) return e.value;
  throw std::invalid_argument(fmt::format("unknown {} \"{}\"; allowed: {}", Vocabulary<E>::what, name,
                                          fmt::join(vocabulary_names<E>(), ", ")));
}

// "a|b|c", for usage lines.
template <class E>
std::string vocabulary_choices() {
  return fmt::format("{}", fmt::join(vocabulary_names<E>(), "|"));
}

}  // namespace lb
