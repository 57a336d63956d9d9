#include "encodings/encoding.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>

namespace lb {

void Encoding::set_scaling(const Scaling& scaling) {
  if (scaling.method != "none")
    throw std::invalid_argument(fmt::format(
        "scaling \"{}\" needs a rotary encoding (rope, xpos); encoding \"{}\" allows only \"none\"",
        scaling.method, spec_.name));
}

std::vector<std::string> encoding_names() {
  std::vector<std::string> names;
  for (const auto& info : encoding_registry()) names.push_back(info.name);
  return names;
}

const EncodingInfo& encoding_info(const std::string& name) {
  for (const auto& info : encoding_registry())
    if (info.name == name) return info;
  throw std::invalid_argument(
      fmt::format("unknown encoding \"{}\"; allowed: {}", name, fmt::join(encoding_names(), ", ")));
}

std::shared_ptr<Encoding> make_encoding(EncodingSpec spec) {
  const auto& info = encoding_info(spec.name);
  nlohmann::json options = info.option_defaults;
  for (const auto& [key, value] : spec.options.items()) {
    if (!options.contains(key)) {
      std::vector<std::string> allowed;
      for (const auto& [k, v] : info.option_defaults.items()) allowed.push_back(k);
      throw std::invalid_argument(fmt::format(
          "encoding \"{}\" has no option \"{}\"; allowed: {}", spec.name, key,
          allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))));
    }
    if (!value.is_number())
      throw std::invalid_argument(
          fmt::format("encoding option \"{}\" must be a number, got {}", key, value.dump()));
    options[key] = value;
  }
  spec.options = options;
  if (spec.d_model % spec.heads != 0)
    throw std::invalid_argument(fmt::format("model.d_model ({}) must be divisible by model.heads ({})",
                                            spec.d_model, spec.heads));
  return info.make(spec);
}

torch::Tensor relative_distance(int64_t T, torch::Device device) {
  auto pos = torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  return (pos.unsqueeze(1) - pos.unsqueeze(0)).clamp_min(0);  // query i, key j: i - j
}

torch::Tensor slice_square(const torch::Tensor& bias, int64_t T) {
  return bias.narrow(-1, 0, T).narrow(-2, 0, T);
}

}  // namespace lb
