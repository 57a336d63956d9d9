#include "harness/run/config_load.h"

#include <fmt/format.h>

#include "harness/data/config_check.h"
#include "harness/eval/config_check.h"
#include "harness/model/config_check.h"
#include "harness/report/claims_check.h"
#include "harness/train/config_check.h"
#include "encodings/registry.h"
#include "encodings/rope_scaling.h"

namespace lb {

namespace {

const RunSpec& run_named(const Config& c, const std::string& name) {
  for (const auto& run : c.runs)
    if (run.name == name) return run;
  throw ConfigError(fmt::format("no run named \"{}\"", name));  // validate_claims has checked the names
}

// Whether evaluating `a` and `b` at T is one computation: the same trained weights (entries equal
// apart from the name and the inference-time scaling, no fine-tuning) and, for rotary encodings,
// the same frequencies, attention scale and far-pair rule at T (e.g. dynamic NTK at T <= L).
bool same_computation(const Config& c, const RunSpec& a, const RunSpec& b, int64_t T) {
  if (a.encoding != b.encoding || a.encoding_options != b.encoding_options || a.attention != b.attention ||
      a.finetune.steps != 0 || b.finetune.steps != 0 || a.scaling.exact_chunk != b.scaling.exact_chunk)
    return false;
  const int64_t L = c.train.length;
  // Inference-time changes that are the identity at T: logN up to L, kv_cache up to L (s = 1
  // everywhere), a window at least T long.
  if (T > L && (a.inference.logn != b.inference.logn || a.scaling.kv_cache != b.scaling.kv_cache)) return false;
  const auto window_at = [T](const InferenceAttention& x) {
    return x.window > 0 && x.window < T ? std::make_pair(x.window, x.sinks) : std::make_pair(int64_t(0), int64_t(0));
  };
  if (window_at(a.inference) != window_at(b.inference)) return false;
  const EncodingInfo& info = encoding_info(a.encoding);
  if (!info.capabilities.takes_scalings) return a.scaling.method == b.scaling.method;
  const double base = a.encoding_options.value("base", info.option_defaults.value("base", 10000.0));
  const int64_t head_dim = c.model.d_model / c.model.heads;
  const RopeFrequencies fa = rope_frequencies(head_dim, base, validate_scaling(a.scaling), L, T);
  const RopeFrequencies fb = rope_frequencies(head_dim, base, validate_scaling(b.scaling), L, T);
  // kv_cache at T > L was told apart above; the same kv_cache rows at every p < T means the
  // same frequencies at every prefix length, which the check at T alone does not show.
  if (a.scaling.kv_cache && T > L) return a.scaling.method == b.scaling.method && a.scaling.options == b.scaling.options &&
                                            a.scaling.factor == b.scaling.factor;
  return fa == fb;
}

// A claim whose two sides are one computation cannot fail (its difference is 0 by construction).
void reject_tautologies(const Config& c) {
  for (size_t i = 0; i < c.claims.size(); ++i) {
    const auto& claim = c.claims[i];
    const double ll = claim["left"]["length"], rl = claim["right"]["length"];
    if (ll != rl) continue;
    const RunSpec& a = run_named(c, claim["left"]["run"]);
    const RunSpec& b = run_named(c, claim["right"]["run"]);
    if (same_computation(c, a, b, std::llround(ll * double(c.train.length))))
      throw ConfigError(fmt::format("config key \"claims[{}]\": {} and {} at {}L are the same computation (same weights, "
                                    "same positions): this claim cannot fail", i, a.name, b.name, ll));
  }
}

}  // namespace

Config parse_config(const nlohmann::json& user) {
  Config c = read_config(user);
  check_train_config(c);
  check_data_config(c);
  check_model_config(c);
  check_eval_config(c);
  check_claims_config(c);
  reject_tautologies(c);
  return c;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  const nlohmann::json user = read_config_file(path, overrides);
  try {
    return parse_config(user);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace lb
