#include "encodings/rope.h"

#include "encodings/options.h"

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
  const RopeFrequencies freq = frequencies(T);
  auto angle_tables = [](const torch::Tensor& positions, const std::vector<double>& inv_freq) {
    auto angles = torch::outer(positions, torch::tensor(inv_freq, torch::kFloat64));
    return std::vector<torch::Tensor>{angles.cos().to(torch::kFloat32), angles.sin().to(torch::kFloat32)};
  };
  auto build = [&](int64_t n, torch::Device dev) {
    // Angles in float64, tables in fp32 whatever the model's precision: bf16 cannot represent
    // pos * freq past ~256 positions.
    const auto f = frequencies(n);
    const auto position = torch::arange(n, torch::kFloat64);
    auto parts = angle_tables(position, f.inv_freq);
    if (auto s = scales(n); s.defined()) parts.insert(parts.end(), {s[0], s[1]});
    if (f.rerope_window > 0) {
      // ReRoPE's far term: q at i*a + w(1-a), k at j*a, so q_i.k_j sees distance w + (i-j-w)*a.
      const double a = f.rerope_far_scale, w = double(f.rerope_window);
      for (const auto& p : {position * a + w * (1 - a), position * a}) {
        auto t = angle_tables(p, f.inv_freq);
        parts.insert(parts.end(), t.begin(), t.end());
      }
    }
    return torch::stack(parts).to(dev);
  };
  auto t = tables_.get(T, device, per_length ? PositionTableCache::Reuse::kExactLength
                                             : PositionTableCache::Reuse::kSlicePrefix, {1}, build);
  PositionInputs in;
  in.length = T;
  in.cos = t[0];
  in.sin = t[1];
  int64_t next = 2;
  if (t.size(0) == 4 || t.size(0) == 8) {
    in.q_scale = t[2];
    in.k_scale = t[3];
    next = 4;
  }
  if (freq.rerope_window > 0) {
    in.far_q_cos = t[next];
    in.far_q_sin = t[next + 1];
    in.far_k_cos = t[next + 2];
    in.far_k_sin = t[next + 3];
    in.far_window = freq.rerope_window;
  }
  in.logit_scale = freq.attention_scale * freq.attention_scale;  // q and k are both scaled
  return in;
}

int64_t Rope::rescale_chunk() const {
  if (!scaling_.exact_chunk) return 0;
  return *scaling_.exact_chunk > 0 ? *scaling_.exact_chunk : std::max<int64_t>(1, spec_.train_length / 4);
}

nlohmann::json Rope::inspect(int64_t T) {
  auto freq = frequencies(T);
  nlohmann::json out = {{"inv_freq", freq.inv_freq}, {"attention_scale", freq.attention_scale}, {"factor", freq.factor}};
  if (freq.rerope_window > 0) out["rerope"] = {{"window", freq.rerope_window}, {"far_scale", freq.rerope_far_scale}};
  if (const int64_t chunk = rescale_chunk()) {
    // Each prefix the exact mode runs, with the factor its last chunk is scored at.
    nlohmann::json prefixes = nlohmann::json::array();
    for (int64_t end : exact_prefix_ends(T, spec_.train_length, chunk))
      prefixes.push_back({{"end", end}, {"factor", frequencies(end).factor}});
    out["exact_chunk"] = {{"chunk", chunk}, {"prefixes", prefixes}};
  }
  return out;
}

std::string Rope::notes() const {
  const auto freq = frequencies(spec_.train_length);
  std::string note;
  if (freq.rerope_window > 0)
    note = fmt::format("distances from {} on are scored {}; two QK products per layer (twice the score cost)",
                       freq.rerope_window, freq.rerope_far_scale > 0 ? "compressed by the factor" : "as that distance");
  if (const int64_t chunk = rescale_chunk())
    note += fmt::format("{}queries scored in {}-token chunks, each on its own prefix at s = chunk end / L "
                        "(about (T/chunk)/2 times the evaluation cost past L)", note.empty() ? "" : "; ", chunk);
  return note;
}

std::shared_ptr<Encoding> make_rope(const EncodingSpec& spec) {
  if (spec.head_dim() % 2 != 0)
    throw std::invalid_argument("rope needs an even head dimension (model.d_model / model.heads)");
  const double fraction = spec.options.value("rotary_fraction", 1.0);
  if (!(fraction > 0 && fraction <= 1) || std::llround(fraction * double(spec.head_dim() / 2)) < 1)
    throw OptionError("rotary_fraction", fmt::format("rope option \"rotary_fraction\" must be in (0, 1] and rotate at least one "
                                            "of the head's {} dimension pairs, got {}", spec.head_dim() / 2, fraction));
  return std::make_shared<Rope>(spec);
}

}  // namespace lb
