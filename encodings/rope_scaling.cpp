// The RoPE scaling table. Adding a method: one function below with the RopeScalingFn signature,
// one line in scaling_methods(), and its tests in tests/test_rope_scaling.cpp.
#include "encodings/rope_scaling.h"

#include "harness/core/named_table.h"
#include "encodings/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace lb {

using nlohmann::json;

std::vector<double> rope_inv_freq(int64_t head_dim, double base) {
  std::vector<double> inv(size_t(head_dim / 2));
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = std::pow(base, -double(2 * i) / double(head_dim));
  return inv;
}

std::vector<double> yarn_ramp(int64_t head_dim, double base, int64_t train_length, double beta_fast,
                              double beta_slow) {
  // Dimension index whose wavelength completes `rotations` turns over the training length.
  auto correction_dim = [&](double rotations) {
    return head_dim * std::log(train_length / (rotations * 2 * M_PI)) / (2 * std::log(base));
  };
  const double low = std::max(0.0, std::floor(correction_dim(beta_fast)));
  double high = std::min(double(head_dim - 1), std::ceil(correction_dim(beta_slow)));
  if (high == low) high += 0.001;  // avoid a zero-width ramp
  std::vector<double> ramp(size_t(head_dim / 2));
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
  return ramp;
}

double yarn_attention_scale(double s, double m) { return s > 1 ? 0.1 * m * std::log(s) + 1.0 : 1.0; }

double yarn_attention_factor(double s, double attention_factor, double mscale, double mscale_all_dim) {
  if (attention_factor > 0) return attention_factor;
  if (mscale != 0 && mscale_all_dim != 0) return yarn_attention_scale(s, mscale) / yarn_attention_scale(s, mscale_all_dim);
  return yarn_attention_scale(s);
}

void keep_highest_frequencies(std::vector<double>& inv_freq, size_t pairs, double p) {
  const size_t removed = size_t(std::llround((1.0 - p) * double(pairs)));
  for (size_t i = pairs - std::min(removed, pairs); i < pairs; ++i) inv_freq[i] = 0.0;
}

void round_wavelengths(std::vector<double>& inv_freq) {
  for (auto& f : inv_freq)
    if (f > 0) f = 2 * M_PI / std::max(1.0, std::round(2 * M_PI / f));
}

namespace {

RopeFrequencies plain(const RopeScalingArgs& a) { return {rope_inv_freq(a.head_dim, a.base), 1.0, 1.0}; }

// Chen et al. 2023: positions / s, which is the same as every frequency / s.
RopeFrequencies position_interpolation(const RopeScalingArgs& a) {
  auto inv = rope_inv_freq(a.head_dim, a.base);
  for (auto& f : inv) f /= a.factor;
  return {inv, 1.0, a.factor};
}

// bloc97 2023: base * s^(d/(d-2)) keeps the highest frequency and interpolates the lowest by s.
RopeFrequencies ntk_aware(const RopeScalingArgs& a) {
  const double d = double(a.head_dim);
  return {rope_inv_freq(a.head_dim, a.base * std::pow(a.factor, d / (d - 2))), 1.0, a.factor};
}

// Peng et al. 2023's frequencies: NTK-by-parts (a ramp between kept and interpolated dims).
std::vector<double> by_parts_frequencies(const RopeScalingArgs& a) {
  auto inv = rope_inv_freq(a.head_dim, a.base);
  const auto ramp = yarn_ramp(a.head_dim, a.base, a.train_length, a.options.at("beta_fast"),
                              a.options.at("beta_slow"));
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = inv[i] * (1 - ramp[i]) + inv[i] / a.factor * ramp[i];
  return inv;
}

// YaRN: NTK-by-parts + attention scale (HF's attention_factor / mscale overrides).
RopeFrequencies yarn(const RopeScalingArgs& a) {
  return {by_parts_frequencies(a),
          yarn_attention_factor(a.factor, a.options.at("attention_factor"), a.options.at("mscale"),
                                a.options.at("mscale_all_dim")),
          a.factor};
}

// YaRN's frequency part alone (bloc97's "NTK-by-parts"): the same ramp, no attention scale, so
// YaRN's two ingredients can be compared separately.
RopeFrequencies ntk_by_parts(const RopeScalingArgs& a) { return {by_parts_frequencies(a), 1.0, a.factor}; }

// Llama 3.1: wavelengths above L/low_freq_factor are divided by s, those below
// L/high_freq_factor kept, and the band between blended linearly in L/wavelength.
RopeFrequencies llama3(const RopeScalingArgs& a) {
  const double low_ff = a.options.at("low_freq_factor"), high_ff = a.options.at("high_freq_factor");
  const double L = double(a.train_length);
  auto inv = rope_inv_freq(a.head_dim, a.base);
  for (auto& f : inv) {
    const double wavelength = 2 * M_PI / f;
    if (wavelength > L / low_ff) {
      f /= a.factor;
    } else if (wavelength >= L / high_ff) {
      const double smooth = (L / wavelength - low_ff) / (high_ff - low_ff);
      f = (1 - smooth) * f / a.factor + smooth * f;
    }
  }
  return {inv, 1.0, a.factor};
}

// LongRoPE (Ding et al. 2024), as HF's "longrope": inv_freq_i = 1 / (r_i * base^(2i/d)) with the
// per-dimension rescale factors r = long_factor for sequences longer than L, else short_factor
// (empty list = all 1), and q, k scaled by attention_factor (0 = sqrt(1 + ln s / ln L) for s > 1).
// The factors are searched per model in the paper; here they are given in the run entry.
RopeFrequencies longrope(const RopeScalingArgs& a) {
  auto inv = rope_inv_freq(a.head_dim, a.base);
  const auto& list = a.options.at(a.seq_length > a.train_length ? "long_factor" : "short_factor");
  if (!list.empty() && list.size() != inv.size())
    throw std::invalid_argument(fmt::format("longrope factor lists need one entry per rotated dimension pair ({}), got {}",
                                            inv.size(), list.size()));
  for (size_t i = 0; i < list.size(); ++i) inv[i] /= list[i].get<double>();
  double attention = a.options.at("attention_factor");
  if (attention <= 0)
    attention = a.factor > 1 ? std::sqrt(1 + std::log(a.factor) / std::log(double(a.train_length))) : 1.0;
  return {inv, attention, a.factor};
}

// Su 2023 ("ReRoPE"): distances below the window keep RoPE; from the window on they are clipped
// to it. window 0 = L/2.
int64_t rerope_window_of(const RopeScalingArgs& a) {
  const int64_t w = std::llround(double(a.options.at("window")));
  return w > 0 ? w : std::max<int64_t>(1, a.train_length / 2);
}

// Adjusted base frequency (Xiong et al. 2023, "Effective Long-Context Scaling"; Qwen2 raised
// 10,000 to 1,000,000 going from 4k to 32k): the rotary base replaced by abf_base, meant to be
// fine-tuned at the target length. At abf_base = the model's base it is plain RoPE.
RopeFrequencies adjusted_base(const RopeScalingArgs& a) {
  return {rope_inv_freq(a.head_dim, double(a.options.at("abf_base"))), 1.0, 1.0};
}

RopeFrequencies rerope(const RopeScalingArgs& a) {
  RopeFrequencies f = plain(a);
  f.rerope_window = rerope_window_of(a);
  f.rerope_far_scale = 0.0;
  return f;
}

// SelfExtend (Jin et al. 2024): neighbour attention (plain RoPE) for distances below window_size
// (0 = L/2); past it, grouped attention with q at floor(i/G) + w - floor(w/G) and k at floor(j/G),
// so a distance n lands near w + (n - w)/G. Positions stay below L while
// T <= (L - w) G + w.
RopeFrequencies self_extend(const RopeScalingArgs& a) {
  RopeFrequencies f = plain(a);
  const int64_t w = std::llround(double(a.options.at("window_size")));
  f.rerope_window = w > 0 ? w : std::max<int64_t>(1, a.train_length / 2);
  f.rerope_far_scale = 1.0;
  f.far_group = std::llround(double(a.options.at("group_size")));
  return f;
}

// LM-Infinite (Han et al. 2024): a Lambda-shaped mask (the first n_global tokens and the last
// n_local, 0 = L) and every distance capped at `cap` (0 = L), scored as ReRoPE's clip.
RopeFrequencies lm_infinite(const RopeScalingArgs& a) {
  RopeFrequencies f = plain(a);
  const auto or_length = [&](const char* key) {
    const int64_t v = std::llround(double(a.options.at(key)));
    return v > 0 ? v : a.train_length;
  };
  f.rerope_window = or_length("cap");
  f.rerope_far_scale = 0.0;
  f.mask_local = or_length("n_local");
  f.mask_global = std::llround(double(a.options.at("n_global")));
  return f;
}

// Leaky ReRoPE: past the window distances grow by 1/s per token instead of 1, so a distance of
// T - 1 lands at w + (T - 1 - w) / s.
RopeFrequencies leaky_rerope(const RopeScalingArgs& a) {
  RopeFrequencies f = rerope(a);
  f.rerope_far_scale = 1.0 / a.factor;
  f.factor = a.factor;
  return f;
}

}  // namespace

const std::vector<ScalingMethod>& scaling_methods() {
  // dynamic-ntk follows SPEC (s = max(1, T/L) into the NTK formula); HF's "dynamic" uses
  // base * (factor*T/L - (factor-1))^(d/(d-2)) instead, so the two differ for factor > 1.
  static const std::vector<ScalingMethod> methods = {
      {"none", "plain RoPE at every length", json::object(), FactorRule::kNone, plain},
      {"pi", "Position Interpolation (Chen et al. 2023): positions / s", json::object(), FactorRule::kGiven,
       position_interpolation},
      {"ntk", "NTK-aware scaling: base * s^(d/(d-2))", json::object(), FactorRule::kGiven, ntk_aware},
      {"dynamic-ntk", "NTK-aware with s = max(1, T/L) from each sequence's length (takes no factor)",
       json::object(), FactorRule::kFromLength, ntk_aware},
      {"yarn", "YaRN (Peng et al. 2023): NTK-by-parts ramp + attention scale 0.1 ln s + 1 (HF's attention_factor, "
               "mscale, mscale_all_dim override it; 0 = not given)",
       {{"beta_fast", 32.0}, {"beta_slow", 1.0}, {"attention_factor", 0.0}, {"mscale", 0.0}, {"mscale_all_dim", 0.0}},
       FactorRule::kGiven, yarn},
      {"ntk-by-parts", "YaRN's ramp without its attention scale (bloc97's NTK-by-parts)",
       {{"beta_fast", 32.0}, {"beta_slow", 1.0}}, FactorRule::kGiven, ntk_by_parts},
      {"llama3", "Llama 3.1 frequency-band scaling (low/high wavelength bands)",
       {{"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}}, FactorRule::kGiven, llama3},
      {"longrope", "LongRoPE (Ding et al. 2024): per-dimension rescale factors, long past L, short up to L",
       {{"short_factor", json::array()}, {"long_factor", json::array()}, {"attention_factor", 0.0}},
       FactorRule::kGiven, longrope, /*always_per_length=*/true},
      {"abf", "adjusted base frequency (Xiong et al. 2023; Qwen2): the rotary base replaced by abf_base, for "
              "fine-tuning at the target length", {{"abf_base", 500000.0}}, FactorRule::kNone, adjusted_base},
      {"rerope", "ReRoPE (Su 2023): distances past `window` (0 = L/2) clipped to it; costs a second QK product",
       {{"window", 0.0}}, FactorRule::kNone, rerope, false, true},
      {"leaky-rerope", "leaky ReRoPE: distances past `window` (0 = L/2) grow by 1/s; costs a second QK product",
       {{"window", 0.0}}, FactorRule::kGiven, leaky_rerope, false, true},
      {"self-extend", "SelfExtend (Jin et al. 2024): plain RoPE below window_size (0 = L/2), floor-divided positions "
                      "by group_size past it; costs a second QK product",
       {{"group_size", 4.0}, {"window_size", 0.0}}, FactorRule::kNone, self_extend, false, true},
      {"lm-infinite", "LM-Infinite (Han et al. 2024): Lambda mask (first n_global + last n_local tokens, 0 = L) and "
                      "distances capped at cap (0 = L); costs a second QK product",
       {{"n_global", 10.0}, {"n_local", 0.0}, {"cap", 0.0}}, FactorRule::kNone, lm_infinite, false, true},
  };
  return methods;
}

std::vector<std::string> scaling_names() { return names_of(scaling_methods()); }

const ScalingMethod& scaling_method(const std::string& name) { return find_named(scaling_methods(), name, "scaling"); }

Scaling validate_scaling(Scaling scaling) {
  const auto& method = scaling_method(scaling.method);
  const json options = fill_options(method.option_defaults, scaling.options, fmt::format("scaling \"{}\"", scaling.method));
  if (scaling.factor) {
    if (method.factor_rule == FactorRule::kNone)
      throw OptionError("factor", fmt::format("scaling \"{}\" takes no factor", scaling.method));
    if (method.factor_rule == FactorRule::kFromLength)
      throw OptionError("factor", fmt::format(
          "scaling \"{}\" computes its own factor s = max(1, T/L) from each sequence; remove the factor", scaling.method));
    if (!(*scaling.factor >= 1.0))
      throw OptionError("factor",
          fmt::format("scaling factor must be \"auto\" or a number >= 1, got {}", *scaling.factor));
  }
  if (options.contains("abf_base") && !(double(options.at("abf_base")) > 0))
    throw OptionError("abf_base", fmt::format("scaling \"{}\" option \"abf_base\" must be > 0", scaling.method));
  if (options.contains("window") && !(double(options.at("window")) >= 0))
    throw OptionError("window", fmt::format("scaling \"{}\" option \"window\" must be >= 0 (0 = L/2)", scaling.method));
  if (options.contains("group_size")) {
    const double g = options.at("group_size");
    if (!(g >= 1) || g != std::floor(g))
      throw OptionError("group_size", fmt::format("scaling \"{}\" option \"group_size\" must be an integer >= 1, got {}",
                                                  scaling.method, g));
  }
  for (const char* key : {"window_size", "n_global", "n_local", "cap"})
    if (options.contains(key) && !(double(options.at(key)) >= 0 && double(options.at(key)) == std::floor(double(options.at(key)))))
      throw OptionError(key, fmt::format("scaling \"{}\" option \"{}\" must be a whole number of tokens >= 0{}",
                                         scaling.method, key, std::string(key) == "n_global" ? "" : " (0 = the default)"));
  for (const char* key : {"attention_factor", "mscale", "mscale_all_dim"})
    if (options.contains(key) && !(double(options.at(key)) >= 0))
      throw OptionError(key, fmt::format("scaling \"{}\" option \"{}\" must be >= 0 (0 = not given)", scaling.method,
                                         key));
  if (scaling.exact_chunk) {
    if (*scaling.exact_chunk < 0)
      throw OptionError("exact_chunk", "exact_chunk must be \"auto\" (L/4) or a number of tokens >= 1");
    scaling.options = options;
    if (!depends_on_length(scaling))
      throw OptionError("exact_chunk", fmt::format(
          "exact_chunk needs a scaling whose factor follows the length (dynamic-ntk, or factor \"auto\"); "
          "\"{}\" with factor {} has none", scaling.method, scaling.factor ? fmt::format("{:g}", *scaling.factor) : "none"));
  }
  if (scaling.kv_cache) {
    scaling.options = options;
    if (!depends_on_length(scaling))
      throw OptionError("kv_cache", fmt::format(
          "kv_cache rotates each position at its own s = max(1, (p + 1) / L): it needs a scaling whose factor follows "
          "the length (dynamic-ntk, or factor \"auto\"); \"{}\" with factor {} has none", scaling.method,
          scaling.factor ? fmt::format("{:g}", *scaling.factor) : "none"));
    if (method.second_product)
      throw OptionError("kv_cache", fmt::format("kv_cache takes a scaling with one rotation, not \"{}\"", scaling.method));
    if (scaling.exact_chunk)
      throw OptionError("kv_cache", "kv_cache and exact_chunk are two ways of applying a length-dependent scaling; give one");
  }
  scaling.options = options;
  return scaling;
}

double resolve_factor(const Scaling& scaling, int64_t train_length, int64_t seq_length) {
  const double from_length = std::max(1.0, double(seq_length) / double(train_length));
  switch (scaling_method(scaling.method).factor_rule) {
    case FactorRule::kNone: return 1.0;
    case FactorRule::kFromLength: return from_length;
    case FactorRule::kGiven: return scaling.factor ? *scaling.factor : from_length;
  }
  return 1.0;
}

bool depends_on_length(const Scaling& scaling) {
  const auto& method = scaling_method(scaling.method);
  const auto rule = method.factor_rule;
  return method.always_per_length || rule == FactorRule::kFromLength || (rule == FactorRule::kGiven && !scaling.factor);
}

std::vector<int64_t> exact_prefix_ends(int64_t seq_length, int64_t train_length, int64_t chunk) {
  if (chunk <= 0) chunk = std::max<int64_t>(1, train_length / 4);
  std::vector<int64_t> ends;
  for (int64_t end = chunk;; end += chunk) {
    const int64_t e = std::min(end, seq_length);
    if (e <= train_length && !ends.empty()) ends.back() = e;  // still s = 1: extend the first prefix
    else ends.push_back(e);
    if (e == seq_length) break;
  }
  return ends;
}

RopeFrequencies rope_frequencies(int64_t head_dim, double base, const Scaling& scaling, int64_t train_length,
                                 int64_t seq_length) {
  const auto& method = scaling_method(scaling.method);
  const json options = scaling.options.empty() ? method.option_defaults : scaling.options;
  const RopeScalingArgs args{head_dim, base, resolve_factor(scaling, train_length, seq_length), train_length,
                             seq_length, options};
  return method.compute(args);
}

}  // namespace lb
