#include "encodings/rope.h"

namespace lb {

RopeFrequencies Rope::frequencies(int64_t T) const {
  return rope_frequencies(spec_.head_dim(), option("base"), scaling_, spec_.train_length, T);
}

void Rope::set_scaling(const Scaling& scaling) {
  scaling_ = validate_scaling(scaling);
  cache_.clear();
}

PositionInputs Rope::positions(int64_t T, torch::Device device) {
  auto key = std::make_pair(T, device.str());
  if (auto hit = cache_.find(key); hit != cache_.end()) return hit->second;
  // Angles in float64, tables in fp32 whatever the model's precision: bf16 cannot represent
  // pos * freq past ~256 positions.
  auto freq = frequencies(T);
  auto pos = torch::arange(T, torch::kFloat64);
  auto angles = torch::outer(pos, freq.inv_freq);
  PositionInputs in;
  in.length = T;
  in.cos = angles.cos().to(device, torch::kFloat32);
  in.sin = angles.sin().to(device, torch::kFloat32);
  in.logit_scale = freq.attention_scale * freq.attention_scale;  // q and k are both scaled
  add_scales(in, pos.to(torch::kFloat32));
  if (in.q_scale.defined()) {
    in.q_scale = in.q_scale.to(device);
    in.k_scale = in.k_scale.to(device);
  }
  cache_[key] = in;
  return in;
}

nlohmann::json Rope::inspect(int64_t T) {
  auto freq = frequencies(T);
  auto inv = freq.inv_freq.contiguous();
  std::vector<double> values(inv.data_ptr<double>(), inv.data_ptr<double>() + inv.numel());
  return {{"inv_freq", values}, {"attention_scale", freq.attention_scale}, {"factor", freq.factor}};
}

std::shared_ptr<Encoding> make_rope(const EncodingSpec& spec) {
  if (spec.head_dim() % 2 != 0)
    throw std::invalid_argument("rope needs an even head dimension (model.d_model / model.heads)");
  return std::make_shared<Rope>(spec);
}

}  // namespace lb
