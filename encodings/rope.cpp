#include "encodings/rope.h"

#include <fmt/format.h>

namespace lb {

int64_t Rope::rotary_pairs() const {
  const double fraction = spec_.options.value("rotary_fraction", 1.0);
  return std::llround(fraction * double(spec_.head_dim() / 2));
}

// Partial rotary (GPT-NeoX's rotary_pct): the first r of the head's d/2 pairs rotate, with the
// frequencies (and any scaling) of a 2r-dimensional RoPE; the other pairs get angle 0 (cos 1,
// sin 0), so those dimensions carry no position. Which pairs rotate is immaterial: q and k are
// learned projections.
RopeFrequencies Rope::frequencies(int64_t T) const {
  const int64_t pairs = rotary_pairs();
  RopeFrequencies f = rope_frequencies(2 * pairs, option("base"), scaling_, spec_.train_length, T);
  f.inv_freq.resize(size_t(spec_.head_dim() / 2), 0.0);
  return f;
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
  const double fraction = spec.options.value("rotary_fraction", 1.0);
  if (!(fraction > 0 && fraction <= 1) || std::llround(fraction * double(spec.head_dim() / 2)) < 1)
    throw std::invalid_argument(fmt::format("rope option \"rotary_fraction\" must be in (0, 1] and rotate at least one "
                                            "of the head's {} dimension pairs, got {}", spec.head_dim() / 2, fraction));
  return std::make_shared<Rope>(spec);
}

}  // namespace lb
