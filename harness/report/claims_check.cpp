#include "harness/report/claims_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>

#include "harness/core/schema.h"

namespace lb {

using nlohmann::json;

const std::vector<ClaimKey>& claim_keys() {
  static const std::vector<ClaimKey> keys = {
      {key::claim, "the claim in words (required)"},
      {key::left, "{\"run\": NAME, \"length\": multiple of L}: the side the claim is about"},
      {key::op, "< (left better by more than margin), > (worse), <= (not worse by more than margin), ~ (within tolerance)"},
      {key::right, "{\"run\": NAME, \"length\": multiple of L}: what it is compared with"},
      {key::margin, "nats (>= 0, default 0.01) for <, > and <="},
      {key::tolerance, "nats (> 0), required with ~"},
      {key::protocol, "the protocol both sides are read at (default nonoverlapping; task for task data)"},
      {key::metric, "nll (default), or accuracy / token_accuracy for task data"},
      {key::task, "the task both sides are read at (task data only)"},
      {key::effect, "the effect the paper reports, nats in the claim's direction (>= 0): the power is computed for it"},
      {key::source, "the paper's sentence the claim encodes"},
  };
  return keys;
}

namespace {

const char* kOps[] = {"<", ">", "<=", "~"};

// "config key \"claims[i].suffix\""
std::string key_name(size_t i, const std::string& suffix = "") {
  return fmt::format("config key \"claims[{}]{}\"", i, suffix);
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

void validate_claims(const json& claims, const std::vector<std::string>& run_names, const std::vector<double>& lengths,
                     const std::vector<std::string>& protocols, const std::vector<std::string>& tasks) {
  if (!claims.is_array()) throw ConfigError("config key \"claims\" must be an array");
  std::vector<std::string> allowed_keys;
  for (const auto& k : claim_keys()) allowed_keys.push_back(k.name);
  for (size_t i = 0; i < claims.size(); ++i) {
    const auto& c = claims[i];
    if (!c.is_object() || !c.contains(key::claim) || !c[key::claim].is_string())
      throw ConfigError(key_name(i) + " needs \"claim\": the claim in words");
    for (const auto& key : c.items())
      if (!contains(allowed_keys, key.key()))
        throw ConfigError(fmt::format("{}: unknown key \"{}\"; allowed: {}", key_name(i), key.key(),
                                      fmt::join(allowed_keys, ", ")));
    const std::string op = c.value(key::op, "");
    if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps))
      throw ConfigError(fmt::format("{} must be one of <, >, <=, ~ (got \"{}\")", key_name(i, ".op"), op));
    if (op == "~" && !(c.contains(key::tolerance) && c[key::tolerance].is_number() && c[key::tolerance].get<double>() > 0))
      throw ConfigError(key_name(i, ".tolerance") + " (nats, > 0) is required with op \"~\"");
    if (c.contains(key::margin) && (op == "~" || !c[key::margin].is_number() || c[key::margin].get<double>() < 0))
      throw ConfigError(key_name(i, ".margin") + " (nats, >= 0) goes with op \"<\", \">\" or \"<=\"");
    if (c.contains(key::effect) && !(c[key::effect].is_number() && c[key::effect].get<double>() >= 0))
      throw ConfigError(key_name(i, ".effect") + " must be a number of nats >= 0 (the paper's effect, in the claim's direction)");
    if (c.contains(key::source) && !c[key::source].is_string())
      throw ConfigError(key_name(i, ".source") + " must be a string: the paper's sentence");
    const std::string protocol = c.value(key::protocol, tasks.empty() ? "nonoverlapping" : "task");
    if (!contains(protocols, protocol))
      throw ConfigError(fmt::format("{} is \"{}\", which eval.protocols ({}) does not evaluate",
                                    key_name(i, ".protocol"), protocol, fmt::join(protocols, ", ")));
    const std::string metric = c.value(key::metric, "nll");
    if (metric != "nll" && metric != "accuracy" && metric != "token_accuracy")
      throw ConfigError(fmt::format("{} is \"{}\"; allowed: nll, accuracy, token_accuracy (task data)",
                                    key_name(i, ".metric"), metric));
    if (tasks.empty() && (metric != "nll" || c.contains(key::task)))
      throw ConfigError(fmt::format("{}: \"metric\" {} and \"task\" need task data (data.task.names)", key_name(i),
                                    metric));
    if (!tasks.empty() && (!c.contains(key::task) || !c[key::task].is_string() || !contains(tasks, c[key::task].get<std::string>())))
      throw ConfigError(fmt::format("{} must name one of the config's tasks: {}", key_name(i, ".task"),
                                    fmt::join(tasks, ", ")));
    for (const char* side : {key::left, "right"}) {
      const std::string prefix = std::string(".") + side;
      if (!c.contains(side) || !c[side].is_object() || !c[side].contains(key::run) || !c[side][key::run].is_string() ||
          !c[side].contains(key::length) || !c[side][key::length].is_number())
        throw ConfigError(key_name(i, prefix) + " must be {\"run\": NAME, \"length\": multiple of L}");
      const std::string run = c[side][key::run];
      if (!contains(run_names, run))
        throw ConfigError(fmt::format("{} is \"{}\", not a run of this config; runs: {}", key_name(i, prefix + ".run"),
                                      run, fmt::join(run_names, ", ")));
      const double length = c[side][key::length];
      if (std::find(lengths.begin(), lengths.end(), length) == lengths.end())
        throw ConfigError(fmt::format("{} is {}, not in eval.lengths ({})", key_name(i, prefix + ".length"), length,
                                      fmt::join(lengths, ", ")));
    }
    if (c[key::left] == c[key::right])
      throw ConfigError(fmt::format("{}: left and right are the same result: this claim cannot fail", key_name(i)));
  }
}

void check_claims_config(const Config& c) {
  std::vector<std::string> run_names, protocols;
  for (const auto& run : c.runs) run_names.push_back(run.name);
  if (c.data.is_task()) protocols = {name_of(Protocol::kTask)};
  else
    for (Protocol p : c.eval.protocols) protocols.push_back(name_of(p));
  validate_claims(c.claims, run_names, c.eval.lengths, protocols, c.data.task.names);
}

}  // namespace lb
