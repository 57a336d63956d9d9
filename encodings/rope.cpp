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
// learned projections. p-RoPE (option p < 1) then zeroes the lowest frequencies of those r pairs
// and Resonance RoPE (option resonance) rounds their wavelengths, after any scaling.
RopeFrequencies Rope::frequencies(int64_t T) const {
  const int64_t pairs = rotary_pairs();
  RopeFrequencies f = rope_frequencies(2 * pairs, option("base"), scaling_, spec_.train_length, T);
  if (spec_.options.value("resonance", 0.0) != 0) round_wavelengths(f.inv_freq);
  if (const double p = spec_.options.value("p", 1.0); p < 1) keep_highest_frequencies(f.inv_freq, size_t(pairs), p);
  f.inv_freq.resize(size_t(spec_.head_dim() / 2), 0.0);
  return f;
}

void Rope::set_scaling(const Scaling& scaling) {
  scaling_ = validate_scaling(scaling);
  tables_.clear();
  mask_.clear();
}

namespace {

std::vector<torch::Tensor> angle_tables(const torch::Tensor& angles) {
  return {angles.cos().to(torch::kFloat32), angles.sin().to(torch::kFloat32)};
}

torch::Tensor angles_at(const torch::Tensor& positions, const std::vector<double>& inv_freq) {
  return torch::outer(positions, torch::tensor(inv_freq, torch::kFloat64));
}

}  // namespace

// kv_cache: row p is rotated at the frequencies (and attention scale) of a sequence of length
// p + 1, as a decoder that rotates each new token's q and k once and caches the keys; rows below
// L share the unscaled ones. -> angles [n, d/2] float64 and the per-row attention scale [n].
std::pair<torch::Tensor, torch::Tensor> Rope::cached_rotation(int64_t n) const {
  const int64_t L = spec_.train_length, half = spec_.head_dim() / 2;
  auto angles = torch::empty({n, half}, torch::kFloat64);
  auto scale = torch::empty({n}, torch::kFloat64);
  auto* a = angles.data_ptr<double>();
  auto* sc = scale.data_ptr<double>();
  const RopeFrequencies within = frequencies(L);
  for (int64_t p = 0; p < n; ++p) {
    const RopeFrequencies f = p < L ? within : frequencies(p + 1);
    for (int64_t i = 0; i < half; ++i) a[p * half + i] = double(p) * f.inv_freq[size_t(i)];
    sc[p] = f.attention_scale;
  }
  return {angles, scale};
}

PositionInputs Rope::positions(int64_t T, torch::Device device) {
  const bool cached = scaling_.kv_cache;
  const bool per_length = (depends_on_length(scaling_) && !cached) || scales_depend_on_length();
  const RopeFrequencies freq = frequencies(T);
  const bool far = freq.rerope_window > 0;
  const bool scaled = cached || scales(1).defined();
  auto build = [&](int64_t n, torch::Device dev) {
    // Angles in float64, tables in fp32 whatever the model's precision: bf16 cannot represent
    // pos * freq past ~256 positions.
    const auto f = frequencies(n);
    const auto position = torch::arange(n, torch::kFloat64);
    std::vector<torch::Tensor> parts;
    torch::Tensor q_scale, k_scale;
    if (cached) {
      auto [angles, row_scale] = cached_rotation(n);
      parts = angle_tables(angles);
      q_scale = k_scale = row_scale.to(torch::kFloat32).unsqueeze(1).expand({n, spec_.head_dim() / 2});
    } else {
      parts = angle_tables(angles_at(position, f.inv_freq));
    }
    if (auto s = scales(n); s.defined()) {
      q_scale = q_scale.defined() ? q_scale * s[0] : s[0];
      k_scale = k_scale.defined() ? k_scale * s[1] : s[1];
    }
    if (scaled) parts.insert(parts.end(), {q_scale.contiguous(), k_scale.contiguous()});
    if (far) {
      // The second rotation (rope_scaling.h): q at floor(i/G) a + w - floor(w/G) a, k at floor(j/G) a.
      const double a = f.rerope_far_scale, G = double(f.far_group), w = double(f.rerope_window);
      const auto grouped = torch::floor(position / G) * a;
      for (const auto& p : {grouped + (w - std::floor(w / G) * a), grouped}) {
        auto t = angle_tables(angles_at(p, f.inv_freq));
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
  if (scaled) {
    in.q_scale = t[2];
    in.k_scale = t[3];
    next = 4;
  }
  if (far) {
    in.far_q_cos = t[next];
    in.far_q_sin = t[next + 1];
    in.far_k_cos = t[next + 2];
    in.far_k_sin = t[next + 3];
    in.far_window = freq.rerope_window;
  }
  // q and k are both scaled; under kv_cache each row carries its own scale in q_scale/k_scale.
  in.logit_scale = cached ? 1.0 : freq.attention_scale * freq.attention_scale;
  return in;
}

// LM-Infinite's Lambda mask, when the scaling has one.
torch::Tensor Rope::bias(int64_t q0, int64_t q1, torch::Device device) {
  const RopeFrequencies f = frequencies(spec_.train_length);
  if (f.mask_local == 0) return {};
  if (q0 > 0) return window_sinks_pattern(q0, q1, f.mask_local, f.mask_global).to(device);
  return mask_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {1, 2}, [&](int64_t n, torch::Device dev) {
    return window_sinks_pattern(0, n, f.mask_local, f.mask_global).to(dev);
  });
}

int64_t Rope::rescale_chunk() const {
  if (!scaling_.exact_chunk) return 0;
  return *scaling_.exact_chunk > 0 ? *scaling_.exact_chunk : std::max<int64_t>(1, spec_.train_length / 4);
}

nlohmann::json Rope::inspect(int64_t T) {
  auto freq = frequencies(T);
  nlohmann::json out = {{"inv_freq", freq.inv_freq}, {"attention_scale", freq.attention_scale}, {"factor", freq.factor}};
  if (freq.rerope_window > 0)
    out["rerope"] = {{"window", freq.rerope_window}, {"far_scale", freq.rerope_far_scale}, {"group", freq.far_group}};
  if (freq.mask_local > 0) out["mask"] = {{"local", freq.mask_local}, {"global", freq.mask_global}};
  if (scaling_.kv_cache) {
    const auto rows = cached_rotation(T);
    out["kv_cache"] = {{"last_row_angles", std::vector<double>(rows.first[T - 1].data_ptr<double>(),
                                                                rows.first[T - 1].data_ptr<double>() + rows.first.size(1))},
                       {"last_row_attention_scale", rows.second[T - 1].item<double>()}};
  }
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
  if (freq.rerope_window > 0 && freq.far_group > 1)
    note = fmt::format("distances from {0} on are grouped: floor(i/{1}) - floor(j/{1}) + {0} - floor({0}/{1}); positions "
                       "stay below L up to T = {2}; two QK products per layer (twice the score cost)",
                       freq.rerope_window, freq.far_group,
                       (spec_.train_length - freq.rerope_window) * freq.far_group + freq.rerope_window);
  else if (freq.rerope_window > 0)
    note = fmt::format("distances from {} on are scored {}; two QK products per layer (twice the score cost)",
                       freq.rerope_window, freq.rerope_far_scale > 0 ? "compressed by the factor" : "as that distance");
  if (freq.mask_local > 0)
    note += fmt::format("; each query sees the first {} and the last {} tokens", freq.mask_global, freq.mask_local);
  if (scaling_.kv_cache)
    note += fmt::format("{}each position's q and k rotated once at s = max(1, (p + 1) / L), as a KV-cache decoder does: "
                        "keys are never re-rotated as the sequence grows", note.empty() ? "" : "; ");
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
  const double p = spec.options.value("p", 1.0);
  if (!(p >= 0 && p <= 1))
    throw OptionError("p", fmt::format("rope option \"p\" (p-RoPE: the fraction of the highest frequencies kept) must be "
                                       "in [0, 1], got {}", p));
  const double resonance = spec.options.value("resonance", 0.0);
  if (resonance != 0 && resonance != 1)
    throw OptionError("resonance", fmt::format("rope option \"resonance\" must be 0 or 1, got {}", resonance));
  return std::make_shared<Rope>(spec);
}

}  // namespace lb
