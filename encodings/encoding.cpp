#include "encodings/encoding.h"

#include "encodings/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <stdexcept>

namespace lb {

void Encoding::set_scaling(const Scaling& scaling) {
  if (scaling.method != "none")
    throw std::invalid_argument(fmt::format("scaling \"{}\" needs an encoding that takes scalings ({}); "
                                            "encoding \"{}\" allows only \"none\"",
                                            scaling.method, fmt::join(encodings_taking_scalings(), ", "), spec_.name));
}

void Encoding::extend_positions(int64_t, int64_t, const std::string&) {
  throw std::invalid_argument(fmt::format("encoding \"{}\" has no position table to extend", spec_.name));
}

std::shared_ptr<Encoding> make_encoding(EncodingSpec spec) {
  const auto& info = encoding_info(spec.name);
  const nlohmann::json options = fill_options(info.option_defaults, spec.options, fmt::format("encoding \"{}\"", spec.name));
  spec.options = options;
  if (spec.d_model % spec.heads != 0)
    throw std::invalid_argument(fmt::format("model.d_model ({}) must be divisible by model.heads ({})",
                                            spec.d_model, spec.heads));
  return info.make(spec);
}

torch::Tensor relative_distance(int64_t q0, int64_t q1, torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  auto query = torch::arange(q0, q1, options), key = torch::arange(q1, options);
  return (query.unsqueeze(1) - key.unsqueeze(0)).clamp_min(0);  // query i, key j: i - j
}

torch::Tensor window_sinks_pattern(int64_t q0, int64_t q1, int64_t width, int64_t sinks) {
  auto distance = relative_distance(q0, q1, torch::kCPU);
  auto key = torch::arange(q1, torch::kFloat32).unsqueeze(0).expand({q1 - q0, q1});
  auto visible = (distance < double(width)).logical_or(key < double(sinks));
  return torch::where(visible, torch::zeros({q1 - q0, q1}),
                      torch::full({q1 - q0, q1}, -std::numeric_limits<float>::infinity()))
      .unsqueeze(0);
}

torch::Tensor far_pairs(const PositionInputs& pos, int64_t q0, int64_t q1, torch::Device device) {
  if (pos.far_window <= 0) return {};
  return relative_distance(q0, q1, device) >= double(pos.far_window);
}

torch::Tensor PositionTableCache::get(int64_t T, torch::Device device, Reuse reuse,
                                      const std::vector<int64_t>& position_dims, const Builder& build) {
  const bool fits = reuse == Reuse::kSlicePrefix ? built_for_ >= T : built_for_ == T;
  const bool inference_only = table_.defined() && table_.is_inference() && !c10::InferenceMode::is_enabled();
  if (!table_.defined() || !fits || table_.device() != device || inference_only) {
    table_ = build(T, device);
    built_for_ = T;
  }
  auto out = table_;
  for (int64_t dim : position_dims) out = out.narrow(dim, 0, T);
  return out;
}

}  // namespace lb
