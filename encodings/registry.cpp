// The list of encodings. Adding one: write encodings/<name>.cpp with a make_<name> factory, add
// one line below, and test it in tests/test_encodings.cpp (CMake picks up the new file).
#include "encodings/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>

#include "harness/core/named_table.h"

namespace lb {

std::shared_ptr<Encoding> make_nope(const EncodingSpec&);
std::shared_ptr<Encoding> make_sinusoidal(const EncodingSpec&);
std::shared_ptr<Encoding> make_learned(const EncodingSpec&);
std::shared_ptr<Encoding> make_t5(const EncodingSpec&);
std::shared_ptr<Encoding> make_rope(const EncodingSpec&);
std::shared_ptr<Encoding> make_alibi(const EncodingSpec&);
std::shared_ptr<Encoding> make_xpos(const EncodingSpec&);
std::shared_ptr<Encoding> make_kerple(const EncodingSpec&);
std::shared_ptr<Encoding> make_fire(const EncodingSpec&);
std::shared_ptr<Encoding> make_window(const EncodingSpec&);
std::shared_ptr<Encoding> make_cope(const EncodingSpec&);
std::shared_ptr<Encoding> make_shaw(const EncodingSpec&);
std::shared_ptr<Encoding> make_deberta(const EncodingSpec&);
std::shared_ptr<Encoding> make_longformer(const EncodingSpec&);
std::shared_ptr<Encoding> make_bigbird(const EncodingSpec&);
std::shared_ptr<Encoding> make_txl(const EncodingSpec&);

const std::vector<EncodingInfo>& encoding_registry() {
  using nlohmann::json;
  using K = PositionKind;
  // capabilities: {kind, takes_scalings, learned_positions, score_terms, memory}
  static const std::vector<EncodingInfo> registry = {
      {"nope", "no positional encoding; causal masking only", {K::kNone, false, false}, json::object(), make_nope},
      {"sinusoidal", "fixed interleaved sin/cos added to embeddings (Vaswani et al.)", {K::kAbsolute, false, false},
       {{"base", 10000.0}, {"scale", 0.0}}, make_sinusoidal},
      {"learned", "learned absolute table; rows past L stay untrained", {K::kAbsolute, false, true}, json::object(),
       make_learned},
      {"t5", "T5 causal bucketed relative bias, per head, shared across layers", {K::kRelative, false, true, true},
       {{"num_buckets", 32}, {"max_distance", 128}}, make_t5},
      {"rope", "rotary embeddings (Su et al.); p < 1: p-RoPE (Barbero et al. 2025), resonance 1: Resonance RoPE "
               "(Wang et al. 2024); accepts the inference-time scalings", {K::kRelative, true, false},
       {{"base", 10000.0}, {"rotary_fraction", 1.0}, {"p", 1.0}, {"resonance", 0}}, make_rope},
      {"alibi", "linear distance penalty with geometric head slopes (Press et al.)", {K::kRelative, false, false, true},
       json::object(), make_alibi},
      {"xpos", "rotary + exponential decay zeta^((i-j)/B) (Sun et al.)", {K::kRelative, true, false},
       {{"base", 10000.0}, {"gamma", 0.4}, {"scale_base", 512.0}}, make_xpos},
      {"kerple", "KERPLE log kernel: -r1 log(1 + r2 (i-j)), learned per head (Chi et al.)",
       {K::kRelative, false, true, true}, json::object(), make_kerple},
      {"fire", "FIRE: MLP of log distance normalised by query position (Li et al.)", {K::kRelative, false, true, true},
       {{"hidden", 32}, {"c", 0.1}, {"threshold", 0.0}}, make_fire},
      {"window", "causal sliding-window attention: keys more than width-1 back are masked (NoPE otherwise)",
       {K::kRelative, false, false, true}, {{"width", 0}, {"sinks", 0}}, make_window},
      {"sinks", "StreamingLLM: a sliding window plus the first `sinks` tokens always visible (NoPE otherwise)",
       {K::kRelative, false, false, true}, {{"width", 0}, {"sinks", 4}}, make_window},
      {"cope", "CoPE: positions are counts of gated keys sigmoid(q.k), learned per layer (Golovneva et al.)",
       {K::kRelative, false, true, true}, {{"npos_max", 0}}, make_cope},
      {"shaw", "learned relative vectors per clipped distance on keys (and values) (Shaw et al. 2018)",
       {K::kRelative, false, true, true}, {{"max_distance", 16}, {"values", 1}}, make_shaw},
      {"deberta", "disentangled attention: content-position terms over shared relative embeddings (He et al. 2021)",
       {K::kRelative, false, true, true}, {{"max_distance", 32}}, make_deberta},
      {"longformer", "sliding window plus global tokens that see and are seen by all (Beltagy et al. 2020)",
       {K::kRelative, false, false, true}, {{"width", 0}, {"global_every", 32}, {"global_first", 1}}, make_longformer},
      {"bigbird", "block-sparse: window, global and random blocks (Zaheer et al. 2020)", {K::kRelative, false, false, true},
       {{"block", 0}, {"window_blocks", 3}, {"global_blocks", 1}, {"random_blocks", 1}, {"seed", 0}}, make_bigbird},
      {"txl", "Transformer-XL's relative encoding (sinusoidal R_{i-j}, global u, v) and segment memory (Dai et al. 2019)",
       {K::kRelative, false, true, true, true}, {{"memory", 0}, {"segments", 2}}, make_txl},
  };
  return registry;
}

std::vector<std::string> encoding_names() { return names_of(encoding_registry()); }

std::vector<std::string> encodings_taking_scalings() {
  std::vector<std::string> names;
  for (const auto& info : encoding_registry())
    if (info.capabilities.takes_scalings) names.push_back(info.name);
  return names;
}

const char* position_kind_name(PositionKind kind) {
  switch (kind) {
    case PositionKind::kNone: return "none";
    case PositionKind::kAbsolute: return "absolute";
    case PositionKind::kRelative: return "relative";
  }
  return "none";
}

const EncodingInfo& encoding_info(const std::string& name) { return find_named(encoding_registry(), name, "encoding"); }

}  // namespace lb
