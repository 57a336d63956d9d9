#include "encodings/rope.h"

namespace lb {

RopeFrequencies Rope::frequencies(int64_t T) const {
  return rope_frequencies(spec_.head_dim(), option("base"), scaling_, spec_.train_length, T);
}

void Rope::set_scaling(const Scaling& scaling) {
  scaling_ = validate_scaling(scaling);
  tables_.clear();
}

PositionInputs Rope::positions(int64_t T, torch::Device device) {
  const bool per_length = depends_on_length(scaling_) || scales_depend_on_length();
  auto build = [&](int64_t n, torch::Device dev) {
    // Angles in float64, tables in fp32 whatever the model's precision: bf16 cannot represent
    // pos * freq past ~256 positions.
    const auto inv_freq = frequencies(n).inv_freq;
    auto angles = torch::outer(torch::arange(n, torch::kFloat64), torch::tensor(inv_freq, torch::kFloat64));
    std::vector<torch::Tensor> parts = {angles.cos().to(torch::kFloat32), angles.sin().to(torch::kFloat32)};
    if (auto s = scales(n); s.defined()) parts.insert(parts.end(), {s[0], s[1]});
    return torch::stack(parts).to(dev);
  };
  auto t = tables_.get(T, device, per_length ? PositionTableCache::Reuse::kExactLength
                                             : PositionTableCache::Reuse::kSlicePrefix, {1}, build);
  PositionInputs in;
  in.length = T;
  in.cos = t[0];
  in.sin = t[1];
  if (t.size(0) == 4) {
    in.q_scale = t[2];
    in.k_scale = t[3];
  }
  const double attention_scale = frequencies(T).attention_scale;
  in.logit_scale = attention_scale * attention_scale;  // q and k are both scaled
  return in;
}

nlohmann::json Rope::inspect(int64_t T) {
  auto freq = frequencies(T);
  return {{"inv_freq", freq.inv_freq}, {"attention_scale", freq.attention_scale}, {"factor", freq.factor}};
}

std::shared_ptr<Encoding> make_rope(const EncodingSpec& spec) {
  if (spec.head_dim() % 2 != 0)
    throw std::invalid_argument("rope needs an even head dimension (model.d_model / model.heads)");
  return std::make_shared<Rope>(spec);
}

}  // namespace lb
