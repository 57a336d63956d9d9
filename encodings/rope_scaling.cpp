#include "encodings/rope_scaling.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <cmath>
#include <stdexcept>

namespace lb {

const std::vector<ScalingInfo>& scaling_registry() {
  static const std::vector<ScalingInfo> registry = {
      {"none", "plain RoPE at every length", nlohmann::json::object()},
      {"pi", "Position Interpolation (Chen et al. 2023): positions / s", nlohmann::json::object()},
      {"ntk", "NTK-aware scaling: base * s^(d/(d-2))", nlohmann::json::object()},
      {"dynamic-ntk", "NTK-aware with s = max(1, T/L) recomputed from each sequence's length",
       nlohmann::json::object()},
      {"yarn", "YaRN (Peng et al. 2023): NTK-by-parts ramp + attention scale 0.1 ln s + 1",
       {{"beta_fast", 32.0}, {"beta_slow", 1.0}}},
      {"llama3", "Llama 3.1 frequency-band scaling (low/high wavelength bands)",
       {{"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}}},
  };
  return registry;
}

const ScalingInfo& scaling_info(const std::string& method) {
  std::vector<std::string> names;
  for (const auto& s : scaling_registry()) {
    if (s.name == method) return s;
    names.push_back(s.name);
  }
  throw std::invalid_argument(
      fmt::format("unknown scaling \"{}\"; allowed: {}", method, fmt::join(names, ", ")));
}

Scaling validate_scaling(Scaling scaling) {
  nlohmann::json options = scaling_info(scaling.method).option_defaults;
  for (const auto& [key, value] : scaling.options.items()) {
    if (!options.contains(key))
      throw std::invalid_argument(
          fmt::format("scaling \"{}\" has no option \"{}\"; allowed: {}", scaling.method, key,
                      options.empty() ? std::string("none") : options.dump()));
    if (!value.is_number())
      throw std::invalid_argument(fmt::format("scaling option \"{}\" must be a number", key));
    options[key] = value;
  }
  if (scaling.factor && !(*scaling.factor >= 1.0))
    throw std::invalid_argument(
        fmt::format("scaling factor must be \"auto\" or a number >= 1, got {}", *scaling.factor));
  scaling.options = options;
  return scaling;
}

double resolve_factor(const Scaling& scaling, int64_t train_length, int64_t seq_length) {
  if (scaling.method == "dynamic-ntk" || !scaling.factor)
    return std::max(1.0, double(seq_length) / double(train_length));
  return *scaling.factor;
}

torch::Tensor rope_inv_freq(int64_t head_dim, double base) {
  auto i = torch::arange(0, head_dim, 2, torch::kFloat64);
  return torch::pow(base, -i / double(head_dim));
}

torch::Tensor yarn_ramp(int64_t head_dim, double base, int64_t train_length, double beta_fast,
                        double beta_slow) {
  // Dimension index whose wavelength completes `rotations` turns over the training length.
  auto correction_dim = [&](double rotations) {
    return head_dim * std::log(train_length / (rotations * 2 * M_PI)) / (2 * std::log(base));
  };
  double low = std::max(0.0, std::floor(correction_dim(beta_fast)));
  double high = std::min(double(head_dim - 1), std::ceil(correction_dim(beta_slow)));
  if (high == low) high += 0.001;  // avoid a zero-width ramp
  auto idx = torch::arange(head_dim / 2, torch::kFloat64);
  return ((idx - low) / (high - low)).clamp(0.0, 1.0);
}

RopeFrequencies rope_frequencies(int64_t head_dim, double base, const Scaling& scaling,
                                 int64_t train_length, int64_t seq_length) {
  const double s = resolve_factor(scaling, train_length, seq_length);
  const double d = double(head_dim);
  const auto& method = scaling.method;
  RopeFrequencies out;
  out.factor = s;
  if (method == "none") {
    out.inv_freq = rope_inv_freq(head_dim, base);
    out.factor = 1.0;
  } else if (method == "pi") {
    out.inv_freq = rope_inv_freq(head_dim, base) / s;
  } else if (method == "ntk" || method == "dynamic-ntk") {
    out.inv_freq = rope_inv_freq(head_dim, base * std::pow(s, d / (d - 2)));
  } else if (method == "yarn") {
    auto extrapolated = rope_inv_freq(head_dim, base);
    auto interpolated = extrapolated / s;
    // ramp = 0 on high-frequency dims (kept as trained), 1 on low-frequency dims (interpolated).
    auto ramp = yarn_ramp(head_dim, base, train_length, scaling.options.at("beta_fast"),
                          scaling.options.at("beta_slow"));
    out.inv_freq = extrapolated * (1 - ramp) + interpolated * ramp;
    out.attention_scale = s > 1 ? 0.1 * std::log(s) + 1.0 : 1.0;
  } else if (method == "llama3") {
    const double low_ff = scaling.options.at("low_freq_factor");
    const double high_ff = scaling.options.at("high_freq_factor");
    auto inv = rope_inv_freq(head_dim, base);
    auto wavelen = 2 * M_PI / inv;
    const double low_wavelen = train_length / low_ff, high_wavelen = train_length / high_ff;
    auto smooth = ((train_length / wavelen) - low_ff) / (high_ff - low_ff);
    auto blended = (1 - smooth) * inv / s + smooth * inv;
    out.inv_freq = torch::where(wavelen > low_wavelen, inv / s,
                                torch::where(wavelen < high_wavelen, inv, blended));
  } else {
    throw std::invalid_argument(fmt::format("unknown scaling \"{}\"", method));
  }
  return out;
}

}  // namespace lb
