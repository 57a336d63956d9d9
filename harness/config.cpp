#include "harness/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <set>

#include "encodings/rope_scaling.h"
#include "harness/claims.h"

namespace lb {

using nlohmann::json;

const json& config_defaults() {
  static const json defaults = json::parse(R"({
    "name": "lengthbench",
    "description": "",
    "seed": 1234,
    "threads": 0,
    "precision": "bf16",
    "device": "cpu",
    "data": {"path": "datasets/corpora/kernel-docs", "format": "auto", "field": "text",
             "vocab_size": 0, "held_out_fraction": 0.05, "eval_tokens": 131072,
             "tokenizer": {"kind": "bytes", "model": "", "type": "unigram", "vocab_size": 4096,
                           "max_sentences": 300000},
             "cache_dir": "datasets/cache"},
    "model": {"layers": 4, "d_model": 128, "heads": 4, "mlp_ratio": 4},
    "train": {"length": 128, "steps": 600, "batch_size": 16, "lr": 0.003, "min_lr_ratio": 0.1,
              "warmup_steps": 50, "weight_decay": 0.1, "grad_clip": 1.0, "beta1": 0.9,
              "beta2": 0.95, "log_every": 50, "checkpoint_every": 200},
    "eval": {"lengths": [1, 2, 3, 4], "protocols": ["nonoverlapping"], "sliding_stride": 0,
             "bucket_width": 1, "batch_tokens": 16384,
             "passkey": {"trials": 0, "depths": [0.1, 0.5, 0.9], "digits": 5}},
    "runs": [],
    "claims": []
  })");
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

template <typename T>
T positive(const json& cfg, const std::string& section, const std::string& key) {
  T v = cfg.at(section).at(key).get<T>();
  if (!(v > 0)) throw ConfigError(fmt::format("config key \"{}.{}\" must be > 0, got {}", section, key, v));
  return v;
}

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
  const ScalingInfo* scaling = nullptr;
  try {
    scaling = &scaling_info(run.scaling.method);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("config key \"{}.scaling\": {}", where, e.what()));
  }
  run.name = string_field("name", run.scaling.method == "none"
                                      ? run.encoding
                                      : run.encoding + "+" + run.scaling.method);

  std::set<std::string> allowed = {"name", "encoding", "scaling", "factor", "finetune"};
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
      if (!value.is_number()) throw ConfigError(fmt::format("config key \"{}.{}\" must be a number", where, key));
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
  if (run.scaling.method != "none" && run.encoding != "rope" && run.encoding != "xpos")
    throw ConfigError(fmt::format("config key \"{}.scaling\": \"{}\" needs a rotary encoding (rope, xpos), "
                                  "not \"{}\"", where, run.scaling.method, run.encoding));
  if (entry.contains("finetune")) {
    json ft = merge(json{{"steps", 0}, {"length", 2.0}, {"lr", 0.0}}, entry["finetune"], where + ".finetune");
    run.finetune.steps = ft["steps"].get<int64_t>();
    run.finetune.length = ft["length"].get<double>();
    run.finetune.lr = ft["lr"].get<double>();
    if (run.finetune.steps < 0 || run.finetune.length < 1.0)
      throw ConfigError(fmt::format("config key \"{}.finetune\": steps must be >= 0 and length >= 1", where));
    // "auto" would fine-tune at s = length but evaluate at s = T/L: a different model per length.
    if (run.finetune.steps > 0 && run.scaling.method != "none" && run.scaling.method != "dynamic-ntk" &&
        !run.scaling.factor)
      throw ConfigError(fmt::format("config key \"{}.factor\": a fine-tuned run needs a fixed factor "
                                    "(e.g. {:g}, the fine-tune length), not \"auto\"", where, run.finetune.length));
  }
  run.scaling = validate_scaling(run.scaling);
  run.entry = entry;
  run.entry["name"] = run.name;
  run.entry["scaling"] = run.scaling.method;
  run.entry["factor"] = run.scaling.method == "none" ? json(nullptr)
                        : run.scaling.factor          ? json(*run.scaling.factor)
                                                      : json("auto");
  return run;
}

}  // namespace

int64_t Config::eval_length(double multiple) const { return std::llround(multiple * train.length); }

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

Config parse_config(const json& user) {
  const json resolved = merge(config_defaults(), user, "");
  Config c;
  c.resolved = resolved;
  c.name = resolved["name"];
  c.seed = resolved["seed"].get<uint64_t>();
  c.threads = resolved["threads"];
  if (c.threads < 0) throw ConfigError("config key \"threads\" must be >= 0 (0 = all cores)");
  c.precision = resolved["precision"];
  if (c.precision != "bf16" && c.precision != "fp32")
    throw ConfigError(fmt::format("config key \"precision\" must be \"bf16\" or \"fp32\", got \"{}\"", c.precision));
  c.device = resolved["device"];
  if (c.device != "cpu" && c.device != "cuda")
    throw ConfigError(fmt::format("config key \"device\" must be \"cpu\" or \"cuda\", got \"{}\"", c.device));

  const auto& d = resolved["data"];
  c.data.path = d["path"];
  c.data.format = d["format"];
  c.data.field = d["field"];
  c.data.vocab_size = d["vocab_size"];
  c.data.held_out_fraction = d["held_out_fraction"];
  if (!(c.data.held_out_fraction > 0 && c.data.held_out_fraction < 1))
    throw ConfigError("config key \"data.held_out_fraction\" must be in (0, 1)");
  c.data.eval_tokens = positive<int64_t>(resolved, "data", "eval_tokens");
  c.data.cache_dir = d["cache_dir"];
  const auto& t = d["tokenizer"];
  auto& tok = c.data.tokenizer;
  tok.kind = t["kind"];
  tok.model = t["model"];
  tok.type = t["type"];
  tok.vocab_size = t["vocab_size"];
  tok.max_sentences = t["max_sentences"];
  if (tok.kind != "bytes" && tok.kind != "sentencepiece")
    throw ConfigError(fmt::format("config key \"data.tokenizer.kind\" must be \"bytes\" or \"sentencepiece\", got \"{}\"",
                                  tok.kind));
  if (tok.kind == "bytes" && !tok.model.empty())
    throw ConfigError("config key \"data.tokenizer.model\" is set but data.tokenizer.kind is \"bytes\" "
                      "(set kind to \"sentencepiece\" to use the model)");
  if (tok.type != "unigram" && tok.type != "bpe")
    throw ConfigError(fmt::format("config key \"data.tokenizer.type\" must be \"unigram\" or \"bpe\", got \"{}\"", tok.type));
  if (tok.vocab_size < 300 || tok.vocab_size > 65536)
    throw ConfigError(fmt::format("config key \"data.tokenizer.vocab_size\" must be in [300, 65536] (byte fallback "
                                  "takes 256 ids), got {}", tok.vocab_size));
  if (tok.max_sentences <= 0) throw ConfigError("config key \"data.tokenizer.max_sentences\" must be > 0");

  c.model.layers = positive<int64_t>(resolved, "model", "layers");
  c.model.d_model = positive<int64_t>(resolved, "model", "d_model");
  c.model.heads = positive<int64_t>(resolved, "model", "heads");
  c.model.mlp_ratio = positive<int64_t>(resolved, "model", "mlp_ratio");
  if (c.model.d_model % c.model.heads != 0)
    throw ConfigError(fmt::format("config key \"model.d_model\" ({}) must be divisible by \"model.heads\" ({})",
                                  c.model.d_model, c.model.heads));

  c.train.length = positive<int64_t>(resolved, "train", "length");
  c.train.steps = resolved["train"]["steps"];
  if (c.train.steps < 0) throw ConfigError("config key \"train.steps\" must be >= 0");
  c.train.batch_size = positive<int64_t>(resolved, "train", "batch_size");
  c.train.lr = positive<double>(resolved, "train", "lr");
  c.train.min_lr_ratio = resolved["train"]["min_lr_ratio"];
  c.train.warmup_steps = resolved["train"]["warmup_steps"];
  c.train.weight_decay = resolved["train"]["weight_decay"];
  c.train.grad_clip = resolved["train"]["grad_clip"];
  c.train.beta1 = resolved["train"]["beta1"];
  c.train.beta2 = resolved["train"]["beta2"];
  c.train.log_every = positive<int64_t>(resolved, "train", "log_every");
  c.train.checkpoint_every = positive<int64_t>(resolved, "train", "checkpoint_every");

  const auto& e = resolved["eval"];
  c.eval.lengths = e["lengths"].get<std::vector<double>>();
  if (c.eval.lengths.empty()) throw ConfigError("config key \"eval.lengths\" must list at least one multiple of train.length");
  for (double m : c.eval.lengths)
    if (!(m > 0) || c.eval_length(m) < 2)
      throw ConfigError(fmt::format("config key \"eval.lengths\": {} is not a usable multiple of train.length", m));
  c.eval.protocols = e["protocols"].get<std::vector<std::string>>();
  for (const auto& p : c.eval.protocols)
    if (p != "nonoverlapping" && p != "sliding")
      throw ConfigError(fmt::format("config key \"eval.protocols\": unknown protocol \"{}\"; allowed: nonoverlapping, sliding", p));
  if (c.eval.protocols.empty()) throw ConfigError("config key \"eval.protocols\" must not be empty");
  c.eval.sliding_stride = e["sliding_stride"];
  if (c.eval.sliding_stride < 0) throw ConfigError("config key \"eval.sliding_stride\" must be >= 0 (0 = train.length)");
  if (c.eval.sliding_stride == 0) c.eval.sliding_stride = c.train.length;
  c.eval.bucket_width = positive<double>(resolved, "eval", "bucket_width");
  c.eval.batch_tokens = positive<int64_t>(resolved, "eval", "batch_tokens");
  const auto& passkey = e["passkey"];
  c.eval.passkey_trials = passkey["trials"];
  c.eval.passkey_depths = passkey["depths"].get<std::vector<double>>();
  c.eval.passkey_digits = passkey["digits"];
  if (c.eval.passkey_trials < 0 || c.eval.passkey_digits < 1)
    throw ConfigError("config keys \"eval.passkey.trials\" (>= 0) and \"eval.passkey.digits\" (>= 1) out of range");
  for (double d : c.eval.passkey_depths)
    if (d < 0 || d > 1) throw ConfigError(fmt::format("config key \"eval.passkey.depths\": {} is not in [0, 1]", d));

  const auto& runs = resolved["runs"];
  if (runs.empty()) throw ConfigError("config key \"runs\" must list at least one run, e.g. {\"encoding\": \"rope\"}");
  std::set<std::string> names;
  for (size_t i = 0; i < runs.size(); ++i) {
    c.runs.push_back(parse_run(runs[i], i));
    if (!names.insert(c.runs.back().name).second)
      throw ConfigError(fmt::format("config key \"runs[{}].name\": duplicate run name \"{}\"", i, c.runs.back().name));
    c.resolved["runs"][i] = c.runs.back().entry;
  }
  c.resolved["eval"]["sliding_stride"] = c.eval.sliding_stride;
  std::vector<std::string> run_names;
  for (const auto& run : c.runs) run_names.push_back(run.name);
  try {
    validate_claims(resolved["claims"], run_names, c.eval.lengths, c.eval.protocols);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  return c;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("cannot open config file \"{}\"", path));
  json user = json::parse(in, nullptr, false);
  if (user.is_discarded()) throw ConfigError(fmt::format("config file \"{}\" is not valid JSON", path));
  for (const auto& o : overrides) apply_override(user, o);
  try {
    return parse_config(user);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace lb
