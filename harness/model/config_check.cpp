#include "harness/model/config_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

#include "encodings/encoding.h"
#include "encodings/options.h"
#include "encodings/registry.h"
#include "encodings/rope_scaling.h"
#include "harness/model/build.h"

namespace lb {

using nlohmann::json;

namespace {

void check_run(RunSpec& run, size_t index) {
  const std::string where = fmt::format("runs[{}]", index);
  if (run.encoding.empty())
    throw ConfigError(fmt::format("config key \"{}.encoding\" is required; allowed: {}", where,
                                  fmt::join(encoding_names(), ", ")));
  const EncodingInfo* info = nullptr;
  try {
    info = &encoding_info(run.encoding);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("config key \"{}.encoding\": {}", where, e.what()));
  }
  const ScalingMethod* scaling = nullptr;
  try {
    scaling = &scaling_method(run.scaling.method);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("config key \"{}.scaling\": {}", where, e.what()));
  }
  std::set<std::string> allowed = run_entry_keys();
  for (const auto& [k, v] : info->option_defaults.items()) allowed.insert(k);
  for (const auto& [k, v] : scaling->option_defaults.items()) allowed.insert(k);
  for (const auto& [key, value] : run.options.items()) {
    if (!allowed.count(key))
      throw ConfigError(fmt::format("unknown config key \"{}.{}\" for encoding \"{}\" with scaling "
                                    "\"{}\"; allowed: {}",
                                    where, key, run.encoding, run.scaling.method, fmt::join(allowed, ", ")));
    (info->option_defaults.contains(key) ? run.encoding_options : run.scaling.options)[key] = value;
  }
  // The same checks the encoding and the scaling make when they are built (options.h), now.
  try {
    fill_options(info->option_defaults, run.encoding_options, fmt::format("encoding \"{}\"", run.encoding));
  } catch (const OptionError& e) {
    throw ConfigError(fmt::format("config key \"{}.{}\": {}", where, e.key, e.what()));
  }
  if (run.scaling.method != "none" && !info->capabilities.takes_scalings)
    throw ConfigError(fmt::format("config key \"{}.scaling\": \"{}\" needs an encoding that takes scalings ({}), "
                                  "not \"{}\"", where, run.scaling.method, fmt::join(encodings_taking_scalings(), ", "),
                                  run.encoding));
  // "auto" would fine-tune at s = length but evaluate at s = T/L: a different model per length.
  if (run.finetune.steps > 0 && scaling->factor_rule == FactorRule::kGiven && !run.scaling.factor)
    throw ConfigError(fmt::format("config key \"{}.factor\": a fine-tuned run needs a fixed factor "
                                  "(e.g. {:g}, the fine-tune length), not \"auto\"", where, run.finetune.length));
  try {
    run.scaling = validate_scaling(run.scaling);
  } catch (const OptionError& e) {
    throw ConfigError(fmt::format("config key \"{}.{}\": {}", where, e.key, e.what()));
  }
  if (run.attention == AttentionKind::kLinear) {
    if (info->capabilities.score_terms)
      throw ConfigError(fmt::format("config key \"{}.attention\": linear attention never forms the scores, so it cannot "
                                    "take encoding \"{}\", which adds to them (a bias or contextual logits); use nope, "
                                    "rope, xpos, sinusoidal or learned", where, run.encoding));
    if (scaling->second_product)
      throw ConfigError(fmt::format("config key \"{}.scaling\": \"{}\" needs the scores (a second product); linear "
                                    "attention has none", where, run.scaling.method));
  }
  if (run.attention == AttentionKind::kLinear && run.inference.any())
    throw ConfigError(fmt::format("config key \"{}.{}\": linear attention has no softmax to rescale or mask; logn, "
                                  "eval_window and eval_sinks need softmax attention", where,
                                  run.inference.logn ? "logn" : "eval_window"));
  const std::string extend = run.finetune.extend;
  if (extend != "none" && extend != "copy" && extend != "interpolate")
    throw ConfigError(fmt::format("config key \"{}.finetune.extend\" is \"{}\"; allowed: none, copy, interpolate", where,
                                  extend));
  if (extend != "none" && !(info->capabilities.learned_positions && info->capabilities.kind == PositionKind::kAbsolute))
    throw ConfigError(fmt::format("config key \"{}.finetune.extend\": only a learned absolute table (learned) has rows "
                                  "to extend, not encoding \"{}\"", where, run.encoding));
  if (extend != "none" && run.finetune.steps == 0)
    throw ConfigError(fmt::format("config key \"{}.finetune.extend\" extends the table for fine-tuning; set "
                                  "finetune.steps > 0", where));
  // "auto" = s from the sequence length, whether chosen (kGiven) or built in (kFromLength).
  run.entry["factor"] = scaling->factor_rule == FactorRule::kNone ? json(nullptr)
                        : run.scaling.factor                      ? json(*run.scaling.factor)
                                                                  : json("auto");
}

}  // namespace

void check_model_config(Config& c) {
  require_positive("model.layers", double(c.model.layers));
  require_positive("model.d_model", double(c.model.d_model));
  require_positive("model.heads", double(c.model.heads));
  require_positive("model.mlp_ratio", double(c.model.mlp_ratio));
  require(c.model.d_model % c.model.heads == 0,
          fmt::format("config key \"model.d_model\" ({}) must be divisible by \"model.heads\" ({})", c.model.d_model,
                      c.model.heads));
  int64_t longest = c.train.length;  // the longest sequence a model will see, as the runner sizes it
  for (double m : c.eval.lengths) longest = std::max(longest, c.eval_length(m));
  for (const auto& run : c.runs) longest = std::max(longest, c.eval_length(run.finetune.length));
  for (size_t i = 0; i < c.runs.size(); ++i) {
    auto& run = c.runs[i];
    check_run(run, i);
    c.resolved["runs"][i] = run.entry;
    // The encoding's own option rules (ranges, sizes that must fit L), now rather than when the
    // model is first built: an encoding is cheap to make.
    try {
      make_encoding(encoding_spec(c, run, longest));
    } catch (const OptionError& e) {
      throw ConfigError(fmt::format("config key \"runs[{}].{}\": {}", i, e.key, e.what()));
    } catch (const std::invalid_argument& e) {
      throw ConfigError(fmt::format("config key \"runs[{}]\" (encoding \"{}\"): {}", i, run.encoding, e.what()));
    }
    // SelfExtend's neighbour window must be shorter than some evaluated length, or it does nothing.
    if (run.scaling.method == "self-extend") {
      const int64_t w = std::llround(double(run.scaling.options.at("window_size")));
      const int64_t window = w > 0 ? w : std::max<int64_t>(1, c.train.length / 2);
      require(window < longest, fmt::format("config key \"runs[{}].window_size\" ({}) must be below the longest evaluated "
                                            "length ({}): SelfExtend is plain RoPE inside its neighbour window", i, window,
                                            longest));
    }
    // List-valued scaling options need one entry per rotated pair.
    const int64_t pairs = std::llround(run.encoding_options.value("rotary_fraction", 1.0) *
                                       double(c.model.d_model / c.model.heads / 2));
    for (const auto& [key, value] : run.scaling.options.items())
      require(!value.is_array() || value.empty() || int64_t(value.size()) == pairs,
              fmt::format("config key \"runs[{}].{}\" lists {} factors; this model rotates {} dimension pairs "
                          "per head (model.d_model / model.heads / 2)", i, key, value.size(), pairs));
  }
}

}  // namespace lb
