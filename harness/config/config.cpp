#include "harness/config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <fstream>
#include <set>

#include "harness/core/atomic_file.h"

namespace lb {

using nlohmann::json;

const json& config_defaults() {
  static const json defaults = [] {
    json d = to_json_value(Config{});
    d["runs"] = json::array();
    d["claims"] = json::array();
    return d;
  }();
  return defaults;
}

namespace {

std::vector<std::string> keys_of(const json& obj) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : obj.items()) keys.push_back(k);
  return keys;
}

}  // namespace

void check_type(const std::string& key, const json& value, const json& like) {
  auto fail = [&](const std::string& want) {
    throw ConfigError(fmt::format("config key \"{}\" must be {}, got {}", key, want, value.dump()));
  };
  if (like.is_number_integer()) {
    if (!value.is_number_integer()) fail("an integer");
  } else if (like.is_number()) {
    if (!value.is_number()) fail("a number");
  } else if (like.is_boolean()) {
    if (!value.is_boolean()) fail("true or false");
  } else if (like.is_string()) {
    if (!value.is_string()) fail("a string");
  } else if (like.is_array()) {
    if (!value.is_array()) fail("an array");
    if (!like.empty())
      for (size_t i = 0; i < value.size(); ++i) {
        // eval.lengths may mix 1 and 1.5: accept any number where the default holds numbers.
        json elem_like = like[0].is_number() ? json(1.0) : like[0];
        check_type(fmt::format("{}[{}]", key, i), value[i], elem_like);
      }
  }
}

json merge_checked(const json& defaults, const json& user, const std::string& prefix) {
  if (!user.is_object())
    throw ConfigError(fmt::format("config {} must be a JSON object", prefix.empty() ? "file" : "key \"" + prefix + "\""));
  json out = defaults;
  for (const auto& [key, value] : user.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!defaults.contains(key))
      throw ConfigError(fmt::format("unknown config key \"{}\"; allowed here: {}", path,
                                    fmt::join(keys_of(defaults), ", ")));
    if (defaults[key].is_object())
      out[key] = merge_checked(defaults[key], value, path);
    else {
      check_type(path, value, defaults[key]);
      out[key] = value;
    }
  }
  return out;
}

const std::set<std::string>& run_entry_keys() {
  static const std::set<std::string> keys = {"name",     "encoding", "scaling", "factor",      "finetune",
                                             "exact_chunk", "kv_cache", "attention", "logn", "eval_window",
                                             "eval_sinks"};
  return keys;
}

namespace {

// The shape of one run entry; its names and options are checked by the model layer.
RunSpec read_run(const json& entry, size_t index) {
  const std::string where = fmt::format("runs[{}]", index);
  if (!entry.is_object()) throw ConfigError(where + " must be a JSON object");
  auto string_field = [&](const std::string& key, const std::string& fallback) {
    if (!entry.contains(key)) return fallback;
    if (!entry[key].is_string())
      throw ConfigError(fmt::format("config key \"{}.{}\" must be a string", where, key));
    return entry[key].get<std::string>();
  };
  RunSpec run;
  run.encoding = string_field("encoding", "");
  run.scaling.method = string_field("scaling", "none");
  run.name = string_field("name", run.scaling.method == "none" ? run.encoding : run.encoding + "+" + run.scaling.method);
  for (const auto& [key, value] : entry.items())
    if (!run_entry_keys().count(key)) run.options[key] = value;
  if (entry.contains("attention")) {
    try {
      run.attention = parse_vocabulary<AttentionKind>(string_field("attention", "softmax"));
    } catch (const std::invalid_argument& e) {
      throw ConfigError(fmt::format("config key \"{}.attention\": {}", where, e.what()));
    }
  }
  if (entry.contains("factor")) {
    const auto& f = entry["factor"];
    if (f.is_string() && f == "auto") {
      run.scaling.factor.reset();
    } else if (f.is_number() && f.get<double>() >= 1.0) {
      run.scaling.factor = f.get<double>();
    } else {
      throw ConfigError(fmt::format("config key \"{}.factor\" must be \"auto\" or a number >= 1, got {}",
                                    where, f.dump()));
    }
  }
  if (entry.contains("exact_chunk")) {
    const auto& chunk = entry["exact_chunk"];
    if (chunk.is_string() && chunk == "auto")
      run.scaling.exact_chunk = 0;
    else if (chunk.is_number_integer() && chunk.get<int64_t>() >= 1)
      run.scaling.exact_chunk = chunk.get<int64_t>();
    else
      throw ConfigError(fmt::format("config key \"{}.exact_chunk\" must be \"auto\" (L/4) or a number of tokens >= 1, "
                                    "got {}", where, chunk.dump()));
  }
  auto count_field = [&](const std::string& key, const std::string& what) -> int64_t {
    if (!entry.contains(key)) return 0;
    if (!entry[key].is_number_integer() || entry[key].get<int64_t>() < 0)
      throw ConfigError(fmt::format("config key \"{}.{}\" must be {} (an integer >= 0), got {}", where, key, what,
                                    entry[key].dump()));
    return entry[key].get<int64_t>();
  };
  auto bool_field = [&](const std::string& key) {
    if (!entry.contains(key)) return false;
    if (!entry[key].is_boolean())
      throw ConfigError(fmt::format("config key \"{}.{}\" must be true or false, got {}", where, key, entry[key].dump()));
    return entry[key].get<bool>();
  };
  run.scaling.kv_cache = bool_field("kv_cache");
  run.inference.logn = bool_field("logn");
  run.inference.window = count_field("eval_window", "a number of tokens (0 = no window)");
  run.inference.sinks = count_field("eval_sinks", "a number of tokens");
  if (run.inference.sinks > 0 && run.inference.window == 0)
    throw ConfigError(fmt::format("config key \"{}.eval_sinks\" keeps the first tokens visible beside a sliding "
                                  "window; set \"{}.eval_window\" too", where, where));
  if (entry.contains("finetune")) {
    run.finetune = parse_section<FinetuneConfig>(entry["finetune"], where + ".finetune");
    if (run.finetune.steps < 0 || run.finetune.length < 1.0)
      throw ConfigError(fmt::format("config key \"{}.finetune\": steps must be >= 0 and length >= 1", where));
  }
  run.entry = entry;
  run.entry["name"] = run.name;
  run.entry["scaling"] = run.scaling.method;
  return run;
}

}  // namespace

int64_t Config::eval_length(double multiple) const { return std::llround(multiple * train.length); }

std::vector<uint64_t> Config::training_seeds() const {
  if (seeds.empty()) return {seed};
  return std::vector<uint64_t>(seeds.begin(), seeds.end());
}

std::vector<int64_t> Config::eval_lengths() const {
  std::vector<int64_t> out;
  for (double m : eval.lengths) out.push_back(eval_length(m));
  return out;
}

void apply_override(json& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("--set expects key.path=value, got \"{}\"", assignment));
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // bare words are strings
  json* node = &config;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (node->is_array()) {
      size_t index = 0;
      try {
        index = std::stoul(key);
      } catch (...) {
        throw ConfigError(fmt::format("--set {}: \"{}\" must be an array index", path, key));
      }
      if (index >= node->size())
        throw ConfigError(fmt::format("--set {}: index {} out of range (size {})", path, index, node->size()));
      node = &(*node)[index];
    } else {
      if (!node->is_object()) *node = json::object();
      node = &(*node)[key];
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *node = value;
}

namespace {

// A run entry's "grid": {"key": [v1, v2, ...], ...} stands for one run per combination of values
// (the cartesian product, first key slowest), named "<name> key=v ...". Any run-entry key may
// vary (encoding options, scaling, factor, ...); each expanded run is then checked as if written out.
json expand_grids(const json& runs) {
  json out = json::array();
  if (!runs.is_array()) throw ConfigError("config key \"runs\" must be a list of run entries");
  for (size_t i = 0; i < runs.size(); ++i) {
    const json& entry = runs[i];
    if (!entry.is_object() || !entry.contains("grid")) {
      out.push_back(entry);
      continue;
    }
    const json& grid = entry["grid"];
    const std::string where = fmt::format("config key \"runs[{}].grid\"", i);
    if (!grid.is_object() || grid.empty())
      throw ConfigError(where + " must be an object of key: [values], e.g. {\"base\": [500, 10000, 500000]}");
    for (const auto& [key, values] : grid.items()) {
      if (!values.is_array() || values.empty())
        throw ConfigError(fmt::format("{}.{} must be a non-empty list of values", where, key));
      if (key == "name" || key == "grid" || entry.contains(key))
        throw ConfigError(fmt::format("{}.{}: a grid key must not also be set in the entry (or be name/grid)", where, key));
    }
    json base = entry;
    base.erase("grid");
    // Named after the entry as written (its name, else its encoding and scaling), then the values.
    std::string stem = entry.value("name", std::string());
    if (stem.empty()) {
      stem = entry.value("encoding", std::string("run"));
      if (entry.contains("scaling") && entry["scaling"].is_string() && entry["scaling"] != "none")
        stem += "+" + entry["scaling"].get<std::string>();
    }
    base["/grid_suffix"] = stem;
    std::vector<json> expanded = {base};
    for (const auto& [key, values] : grid.items()) {
      std::vector<json> next;
      for (const auto& partial : expanded)
        for (const auto& value : values) {
          json child = partial;
          child[key] = value;
          const std::string shown = value.is_string() ? value.get<std::string>() : value.dump();
          child["/grid_suffix"] = child["/grid_suffix"].get<std::string>() + " " + key + "=" + shown;
          next.push_back(child);
        }
      expanded = next;
    }
    for (auto& child : expanded) out.push_back(child);
  }
  return out;
}

}  // namespace

Config read_config(const json& user) {
  const json resolved = merge_checked(config_defaults(), user, "");
  for (const auto& seed : resolved["seeds"])
    if (!seed.is_number_integer() || seed.get<int64_t>() < 0)
      throw ConfigError(fmt::format("config key \"seeds\" must list non-negative integers, got {}", resolved["seeds"].dump()));
  Config c;
  from_json_value(resolved, c, "");
  c.resolved = resolved;
  const std::set<int64_t> distinct(c.seeds.begin(), c.seeds.end());
  require(distinct.size() == c.seeds.size(), fmt::format("config key \"seeds\" lists a seed twice: {}", json(c.seeds).dump()));
  const json runs = expand_grids(resolved["runs"]);
  require(!runs.empty(), "config key \"runs\" must list at least one run, e.g. {\"encoding\": \"rope\"}");
  c.resolved["runs"] = runs;
  std::set<std::string> names;
  for (size_t i = 0; i < runs.size(); ++i) {
    json entry = runs[i];
    if (entry.is_object() && entry.contains("/grid_suffix")) {  // an expanded grid run: its generated name
      entry["name"] = entry["/grid_suffix"];
      entry.erase("/grid_suffix");
    }
    c.runs.push_back(read_run(entry, i));
    require(names.insert(c.runs.back().name).second,
            fmt::format("config key \"runs[{}].name\": duplicate run name \"{}\"", i, c.runs.back().name));
    c.resolved["runs"][i] = c.runs.back().entry;
  }
  if (!resolved["claims"].is_array()) throw ConfigError("config key \"claims\" must be an array");
  c.claims = resolved["claims"];
  return c;
}

json read_config_file(const std::string& path, const std::vector<std::string>& overrides) {
  json user;
  try {
    user = read_json_file(path);
  } catch (const InputError& e) {
    throw ConfigError(fmt::format("config file {}", e.what()));
  }
  for (const auto& o : overrides) apply_override(user, o);
  return user;
}

}  // namespace lb
