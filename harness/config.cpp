#include "harness/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <fstream>
#include <set>

#include "encodings/options.h"
#include "encodings/registry.h"
#include "encodings/rope_scaling.h"
#include "harness/data/tasks.h"
#include "harness/atomic_file.h"
#include "harness/eval/windows.h"

namespace lb {

using nlohmann::json;

namespace {

// Calls a struct's `fields` list without doing anything: detects structs that have one.
struct NoVisit {
  template <class F>
  void operator()(const char*, F&) const {}
};
template <class T, class = void>
struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(T::fields(std::declval<T&>(), NoVisit{}))>> : std::true_type {};

template <class T>
json to_json_value(const T& value) {
  if constexpr (has_fields<T>::value) {
    json out = json::object();
    T::fields(value, [&](const char* key, const auto& field) { out[key] = to_json_value(field); });
    return out;
  } else {
    return json(value);
  }
}

// `j` has passed the type checks against the defaults, so every get<> succeeds.
template <class T>
void from_json_value(const json& j, T& value) {
  if constexpr (has_fields<T>::value)
    T::fields(value, [&](const char* key, auto& field) { from_json_value(j.at(key), field); });
  else
    value = j.get<T>();
}

}  // namespace

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

// Checks `value` against the default's type: integers where the default is an integer, any
// number where it is a float, strings for strings, arrays element-wise by the first element.
void check_type(const std::string& key, const json& value, const json& like) {
  auto fail = [&](const std::string& want) {
    throw ConfigError(fmt::format("config key \"{}\" must be {}, got {}", key, want, value.dump()));
  };
  if (like.is_number_integer()) {
    if (!value.is_number_integer()) fail("an integer");
  } else if (like.is_number()) {
    if (!value.is_number()) fail("a number");
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

// Overlays `user` on `defaults`, rejecting keys the defaults do not have.
json merge(const json& defaults, const json& user, const std::string& prefix) {
  if (!user.is_object())
    throw ConfigError(fmt::format("config {} must be a JSON object", prefix.empty() ? "file" : "key \"" + prefix + "\""));
  json out = defaults;
  for (const auto& [key, value] : user.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!defaults.contains(key))
      throw ConfigError(fmt::format("unknown config key \"{}\"; allowed here: {}", path,
                                    fmt::join(keys_of(defaults), ", ")));
    if (defaults[key].is_object())
      out[key] = merge(defaults[key], value, path);
    else {
      check_type(path, value, defaults[key]);
      out[key] = value;
    }
  }
  return out;
}

const char* kOps[] = {"<", ">", "<=", "~"};

// "config key \"claims[i].suffix\""
std::string key_name(size_t i, const std::string& suffix = "") {
  return fmt::format("config key \"claims[{}]{}\"", i, suffix);
}

}  // namespace

void validate_claims(const json& claims, const std::vector<std::string>& run_names, const std::vector<double>& lengths,
                     const std::vector<std::string>& protocols, const std::vector<std::string>& tasks) {
  if (!claims.is_array()) throw ConfigError("config key \"claims\" must be an array");
  for (size_t i = 0; i < claims.size(); ++i) {
    const auto& c = claims[i];
    if (!c.is_object() || !c.contains("claim") || !c["claim"].is_string())
      throw ConfigError(key_name(i) + " needs \"claim\": the claim in words");
    for (const auto& key : c.items())
      if (key.key() != "claim" && key.key() != "left" && key.key() != "right" && key.key() != "op" &&
          key.key() != "tolerance" && key.key() != "margin" && key.key() != "protocol" && key.key() != "metric" &&
          key.key() != "task")
        throw ConfigError(fmt::format("{}: unknown key \"{}\"; allowed: claim, left, op, right, margin (< > <=), "
                                      "tolerance (~), protocol, metric and task (task data)",
                                      key_name(i), key.key()));
    const std::string op = c.value("op", "");
    if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps))
      throw ConfigError(fmt::format("{} must be one of <, >, <=, ~ (got \"{}\")", key_name(i, ".op"), op));
    if (op == "~" && !(c.contains("tolerance") && c["tolerance"].is_number() && c["tolerance"].get<double>() > 0))
      throw ConfigError(key_name(i, ".tolerance") + " (nats, > 0) is required with op \"~\"");
    if (c.contains("margin") && (op == "~" || !c["margin"].is_number() || c["margin"].get<double>() < 0))
      throw ConfigError(key_name(i, ".margin") + " (nats, >= 0) goes with op \"<\", \">\" or \"<=\"");
    const std::string protocol = c.value("protocol", tasks.empty() ? "nonoverlapping" : "task");
    if (std::find(protocols.begin(), protocols.end(), protocol) == protocols.end())
      throw ConfigError(fmt::format("{} is \"{}\", which eval.protocols ({}) does not evaluate",
                                              key_name(i, ".protocol"), protocol, fmt::join(protocols, ", ")));
    const std::string metric = c.value("metric", "nll");
    if (metric != "nll" && metric != "accuracy" && metric != "token_accuracy")
      throw ConfigError(fmt::format("{} is \"{}\"; allowed: nll, accuracy, token_accuracy (task data)",
                                    key_name(i, ".metric"), metric));
    if (tasks.empty() && (metric != "nll" || c.contains("task")))
      throw ConfigError(fmt::format("{}: \"metric\" {} and \"task\" need task data (data.task.names)", key_name(i),
                                    metric));
    if (!tasks.empty() && (!c.contains("task") || !c["task"].is_string() ||
                           std::find(tasks.begin(), tasks.end(), c["task"].get<std::string>()) == tasks.end()))
      throw ConfigError(fmt::format("{} must name one of the config's tasks: {}", key_name(i, ".task"),
                                    fmt::join(tasks, ", ")));
    for (const char* side : {"left", "right"}) {
      const std::string prefix = std::string(".") + side;
      if (!c.contains(side) || !c[side].is_object() || !c[side].contains("run") || !c[side]["run"].is_string() ||
          !c[side].contains("length") || !c[side]["length"].is_number())
        throw ConfigError(key_name(i, prefix) + " must be {\"run\": NAME, \"length\": multiple of L}");
      const std::string run = c[side]["run"];
      if (std::find(run_names.begin(), run_names.end(), run) == run_names.end())
        throw ConfigError(fmt::format("{} is \"{}\", not a run of this config; runs: {}",
                                                key_name(i, prefix + ".run"), run, fmt::join(run_names, ", ")));
      const double length = c[side]["length"];
      if (std::find(lengths.begin(), lengths.end(), length) == lengths.end())
        throw ConfigError(fmt::format("{} is {}, not in eval.lengths ({})", key_name(i, prefix + ".length"),
                                                length, fmt::join(lengths, ", ")));
    }
  }
}


namespace {

RunSpec parse_run(const json& entry, size_t index) {
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
  if (run.encoding.empty())
    throw ConfigError(fmt::format("config key \"{}.encoding\" is required; allowed: {}", where,
                                  fmt::join(encoding_names(), ", ")));
  const EncodingInfo* info = nullptr;
  try {
    info = &encoding_info(run.encoding);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("config key \"{}.encoding\": {}", where, e.what()));
  }
  run.scaling.method = string_field("scaling", "none");
  const ScalingMethod* scaling = nullptr;
  try {
    scaling = &scaling_method(run.scaling.method);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("config key \"{}.scaling\": {}", where, e.what()));
  }
  run.name = string_field("name", run.scaling.method == "none"
                                      ? run.encoding
                                      : run.encoding + "+" + run.scaling.method);

  std::set<std::string> allowed = {"name", "encoding", "scaling", "factor", "finetune", "exact_chunk"};
  for (const auto& [k, v] : info->option_defaults.items()) allowed.insert(k);
  for (const auto& [k, v] : scaling->option_defaults.items()) allowed.insert(k);
  for (const auto& [key, value] : entry.items()) {
    if (!allowed.count(key))
      throw ConfigError(fmt::format("unknown config key \"{}.{}\" for encoding \"{}\" with scaling "
                                    "\"{}\"; allowed: {}",
                                    where, key, run.encoding, run.scaling.method, fmt::join(allowed, ", ")));
    if (info->option_defaults.contains(key)) {
      if (!value.is_number()) throw ConfigError(fmt::format("config key \"{}.{}\" must be a number", where, key));
      run.encoding_options[key] = value;
    } else if (scaling->option_defaults.contains(key)) {
      if (!option_value_ok(scaling->option_defaults[key], value))
        throw ConfigError(fmt::format("config key \"{}.{}\" must be {}", where, key,
                                      scaling->option_defaults[key].is_array() ? "a list of numbers" : "a number"));
      run.scaling.options[key] = value;
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
  if (run.scaling.method != "none" && !info->capabilities.takes_scalings)
    throw ConfigError(fmt::format("config key \"{}.scaling\": \"{}\" needs an encoding that takes scalings ({}), "
                                  "not \"{}\"", where, run.scaling.method, fmt::join(encodings_taking_scalings(), ", "),
                                  run.encoding));
  if (entry.contains("finetune")) {
    from_json_value(merge(to_json_value(FinetuneConfig{}), entry["finetune"], where + ".finetune"), run.finetune);
    if (run.finetune.steps < 0 || run.finetune.length < 1.0)
      throw ConfigError(fmt::format("config key \"{}.finetune\": steps must be >= 0 and length >= 1", where));
    // "auto" would fine-tune at s = length but evaluate at s = T/L: a different model per length.
    if (run.finetune.steps > 0 && scaling->factor_rule == FactorRule::kGiven && !run.scaling.factor)
      throw ConfigError(fmt::format("config key \"{}.factor\": a fine-tuned run needs a fixed factor "
                                    "(e.g. {:g}, the fine-tune length), not \"auto\"", where, run.finetune.length));
  }
  try {
    run.scaling = validate_scaling(run.scaling);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("config key \"{}.{}\": {}", where,
                                  run.scaling.exact_chunk && !depends_on_length(run.scaling) ? "exact_chunk" : "factor",
                                  e.what()));
  }
  run.entry = entry;
  run.entry["name"] = run.name;
  run.entry["scaling"] = run.scaling.method;
  // "auto" = s from the sequence length, whether chosen (kGiven) or built in (kFromLength).
  run.entry["factor"] = scaling->factor_rule == FactorRule::kNone ? json(nullptr)
                        : run.scaling.factor                      ? json(*run.scaling.factor)
                                                                  : json("auto");
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

double non_embedding_parameters(const Config& c, const std::string& encoding, int64_t max_length) {
  const double C = double(c.model.d_model);
  double p = double(c.model.layers) * ((4.0 + 2.0 * double(c.model.mlp_ratio)) * C * C + 4.0 * C) + 2.0 * C;
  const auto& caps = encoding_info(encoding).capabilities;
  if (caps.learned_positions && caps.kind == PositionKind::kAbsolute) p += double(max_length) * C;
  return p;
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

Config parse_config(const json& user) {
  const json resolved = merge(config_defaults(), user, "");
  for (const auto& seed : resolved["seeds"])
    if (!seed.is_number_integer() || seed.get<int64_t>() < 0)
      throw ConfigError(fmt::format("config key \"seeds\" must list non-negative integers, got {}", resolved["seeds"].dump()));
  Config c;
  from_json_value(resolved, c);
  c.resolved = resolved;
  auto fail_unless = [](bool ok, const std::string& message) {
    if (!ok) throw ConfigError(message);
  };
  auto one_of = [](const std::string& key, const std::string& value, const std::vector<std::string>& allowed) {
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
      throw ConfigError(fmt::format("config key \"{}\" is \"{}\"; allowed: {}", key, value, fmt::join(allowed, ", ")));
  };
  auto positive = [](const std::string& key, double value) {
    if (!(value > 0)) throw ConfigError(fmt::format("config key \"{}\" must be > 0, got {}", key, value));
  };
  fail_unless(c.threads >= 0, "config key \"threads\" must be >= 0 (0 = all cores)");
  one_of("precision", c.precision, {"auto", "bf16", "fp32"});
  one_of("device", c.device, {"auto", "cpu", "cuda"});

  fail_unless(c.data.held_out_fraction > 0 && c.data.held_out_fraction < 1,
              "config key \"data.held_out_fraction\" must be in (0, 1)");
  positive("data.eval_tokens", double(c.data.eval_tokens));
  const auto& tok = c.data.tokenizer;
  one_of("data.tokenizer.kind", tok.kind, {"bytes", "sentencepiece"});
  fail_unless(tok.kind != "bytes" || tok.model.empty(),
              "config key \"data.tokenizer.model\" is set but data.tokenizer.kind is \"bytes\" "
              "(set kind to \"sentencepiece\" to use the model)");
  one_of("data.tokenizer.type", tok.type, {"unigram", "bpe"});
  fail_unless(tok.vocab_size >= 300 && tok.vocab_size <= 65536,
              fmt::format("config key \"data.tokenizer.vocab_size\" must be in [300, 65536] (byte fallback takes 256 "
                          "ids), got {}", tok.vocab_size));
  positive("data.tokenizer.max_sentences", double(tok.max_sentences));
  for (size_t i = 0; i < c.data.task.names.size(); ++i) {
    const std::string& name = c.data.task.names[i];
    one_of(fmt::format("data.task.names[{}]", i), name, task_names());
    const int64_t shortest = std::llround(c.data.task.min_length * double(c.train.length)) + 1;
    fail_unless(task_info(name).min_length <= shortest,
                fmt::format("config key \"data.task.min_length\": task \"{}\" needs instances of at least {} tokens, "
                            "but {} x train.length gives {}", name, task_info(name).min_length, c.data.task.min_length,
                            shortest));
  }
  if (std::count(c.data.task.names.begin(), c.data.task.names.end(), "count") > 0) {
    double longest = 0;
    for (double m : c.eval.lengths) longest = std::max(longest, m);
    fail_unless(std::llround(longest * double(c.train.length)) + 1 <= 1005,
                "config key \"eval.lengths\": task \"count\" writes counts in 3 digits, so instances are at most 1005 "
                "tokens; lower the longest eval length or train.length");
  }
  fail_unless(c.data.task.instances >= 2, "config key \"data.task.instances\" must be >= 2 (errors need 2 instances)");
  fail_unless(c.data.task.min_length > 0 && c.data.task.min_length <= 1,
              "config key \"data.task.min_length\" must be in (0, 1] (a fraction of train.length)");
  fail_unless(c.data.task.queries >= 1 && c.data.task.distractors >= 0,
              "config keys \"data.task.queries\" >= 1 and \"data.task.distractors\" >= 0");
  fail_unless(c.data.passkey_mix >= 0 && c.data.passkey_mix < 1, "config key \"data.passkey_mix\" must be in [0, 1)");
  fail_unless(!(c.data.is_task() && c.data.passkey_mix > 0),
              "config key \"data.passkey_mix\" mixes passkey prompts into text; with data.task.names the data is "
              "tasks already");
  fail_unless(!(c.data.is_task() && c.eval.passkey.trials > 0),
              "config key \"eval.passkey.trials\": the passkey probe writes text prompts; task data has the "
              "\"passkey\" task instead (set trials to 0)");

  positive("model.layers", double(c.model.layers));
  positive("model.d_model", double(c.model.d_model));
  positive("model.heads", double(c.model.heads));
  positive("model.mlp_ratio", double(c.model.mlp_ratio));
  fail_unless(c.model.d_model % c.model.heads == 0,
              fmt::format("config key \"model.d_model\" ({}) must be divisible by \"model.heads\" ({})", c.model.d_model,
                          c.model.heads));

  positive("train.length", double(c.train.length));
  fail_unless(c.train.steps >= 0, "config key \"train.steps\" must be >= 0");
  positive("train.batch_size", double(c.train.batch_size));
  positive("train.lr", c.train.lr);
  positive("train.log_every", double(c.train.log_every));
  positive("train.checkpoint_every", double(c.train.checkpoint_every));

  fail_unless(!c.eval.lengths.empty(), "config key \"eval.lengths\" must list at least one multiple of train.length");
  for (double m : c.eval.lengths)
    fail_unless(m > 0 && c.eval_length(m) >= 2,
                fmt::format("config key \"eval.lengths\": {} is not a usable multiple of train.length", m));
  fail_unless(!c.eval.protocols.empty(), "config key \"eval.protocols\" must not be empty");
  for (const auto& p : c.eval.protocols) one_of("eval.protocols[]", p, {"nonoverlapping", "sliding"});
  one_of("eval.sample", c.eval.sample, {"stream", "documents"});
  fail_unless(c.eval.sliding_stride >= 0 && c.eval.sliding_stride <= c.train.length,
              fmt::format("config key \"eval.sliding_stride\" must be in [0, train.length = {}] (0 = train.length / 2)",
                          c.train.length));
  if (c.eval.sliding_stride == 0) c.eval.sliding_stride = default_sliding_stride(c.train.length);
  std::set<int64_t> distinct(c.seeds.begin(), c.seeds.end());
  fail_unless(distinct.size() == c.seeds.size(), fmt::format("config key \"seeds\" lists a seed twice: {}", json(c.seeds).dump()));
  positive("eval.bucket_width", c.eval.bucket_width);
  positive("eval.batch_tokens", double(c.eval.batch_tokens));
  fail_unless(c.eval.passkey.trials >= 0 && c.eval.passkey.digits >= 1,
              "config keys \"eval.passkey.trials\" (>= 0) and \"eval.passkey.digits\" (>= 1) out of range");
  for (double d : c.eval.passkey.depths)
    fail_unless(d >= 0 && d <= 1, fmt::format("config key \"eval.passkey.depths\": {} is not in [0, 1]", d));

  const json runs = expand_grids(resolved["runs"]);
  fail_unless(!runs.empty(), "config key \"runs\" must list at least one run, e.g. {\"encoding\": \"rope\"}");
  c.resolved["runs"] = runs;
  std::set<std::string> names;
  for (size_t i = 0; i < runs.size(); ++i) {
    json entry = runs[i];
    if (entry.is_object() && entry.contains("/grid_suffix")) {  // an expanded grid run: its generated name
      entry["name"] = entry["/grid_suffix"];
      entry.erase("/grid_suffix");
    }
    c.runs.push_back(parse_run(entry, i));
    fail_unless(names.insert(c.runs.back().name).second,
                fmt::format("config key \"runs[{}].name\": duplicate run name \"{}\"", i, c.runs.back().name));
    c.resolved["runs"][i] = c.runs.back().entry;
  }
  for (size_t i = 0; i < c.runs.size(); ++i) {  // list-valued scaling options need one entry per rotated pair
    const auto& run = c.runs[i];
    const int64_t pairs = std::llround(run.encoding_options.value("rotary_fraction", 1.0) *
                                       double(c.model.d_model / c.model.heads / 2));
    for (const auto& [key, value] : run.scaling.options.items())
      fail_unless(!value.is_array() || value.empty() || int64_t(value.size()) == pairs,
                  fmt::format("config key \"runs[{}].{}\" lists {} factors; this model rotates {} dimension pairs "
                              "per head (model.d_model / model.heads / 2)", i, key, value.size(), pairs));
  }
  c.resolved["eval"]["sliding_stride"] = c.eval.sliding_stride;
  std::vector<std::string> run_names;
  for (const auto& run : c.runs) run_names.push_back(run.name);
  validate_claims(resolved["claims"], run_names, c.eval.lengths,
                  c.data.is_task() ? std::vector<std::string>{"task"} : c.eval.protocols, c.data.task.names);
  return c;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  json user;
  try {
    user = read_json_file(path);
  } catch (const InputError& e) {
    throw ConfigError(fmt::format("config file {}", e.what()));
  }
  for (const auto& o : overrides) apply_override(user, o);
  try {
    return parse_config(user);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace lb
