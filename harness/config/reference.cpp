#include "harness/config/reference.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/config/config.h"

namespace lb {

namespace {

using namespace fields_detail;

template <class T>
void rows_of(const T& value, const std::string& path, std::string& out) {
  if constexpr (has_fields<T>::value) {
    T::fields(value, [&](const char* key, const auto& field) { rows_of(field, path.empty() ? key : path + "." + key, out); });
  } else {
    std::string type, allowed;
    if constexpr (is_vocabulary<T>::value) {
      type = "string";
      allowed = fmt::format("{}", fmt::join(vocabulary_names<T>(), ", "));
    } else if constexpr (is_vector<T>::value) {
      type = "array";
    } else if constexpr (std::is_same_v<T, bool>) {
      type = "bool";
    } else if constexpr (std::is_integral_v<T>) {
      type = "integer";
    } else if constexpr (std::is_floating_point_v<T>) {
      type = "number";
    } else {
      type = "string";
    }
    std::string shown = to_json_value(value).dump();
    for (char& c : shown)
      if (c == '|') c = '/';
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", path, type, shown, allowed);
  }
}

}  // namespace

std::string config_reference_markdown() {
  std::string out =
      "# Config reference\n\n"
      "Generated from the config's field lists (`lengthbench reference config > docs/reference/config.md`); "
      "a test fails when this file and the binary disagree. Meanings: docs/config.md. Besides these keys a "
      "config has `runs` (a list of run entries: `name`, `encoding`, `scaling`, `factor`, `exact_chunk`, "
      "`kv_cache`, `attention`, `logn`, `eval_window`, `eval_sinks`, `finetune`, and the encoding's and scaling's "
      "options, listed by `lengthbench list`) and "
      "`claims` (docs/evaluation.md).\n\n"
      "| key | type | default | allowed |\n|---|---|---|---|\n";
  const Config defaults;
  Config::fields(defaults, [&](const char* key, const auto& field) { rows_of(field, key, out); });
  out += "\n## runs[].finetune\n\n| key | type | default | allowed |\n|---|---|---|---|\n";
  rows_of(FinetuneConfig{}, "finetune", out);
  return out;
}

}  // namespace lb
