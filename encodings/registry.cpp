// The list of encodings. Adding one: write encodings/<name>.cpp with a make_<name> factory,
// add one line below (and the file to CMakeLists.txt), and test it in tests/test_encodings.cpp.
#include "encodings/encoding.h"

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

const std::vector<EncodingInfo>& encoding_registry() {
  using nlohmann::json;
  static const std::vector<EncodingInfo> registry = {
      {"nope", "no positional encoding; causal masking only", json::object(), make_nope},
      {"sinusoidal", "fixed interleaved sin/cos added to embeddings (Vaswani et al.)",
       {{"base", 10000.0}, {"scale", 0.02}}, make_sinusoidal},
      {"learned", "learned absolute table; rows past L stay untrained", json::object(), make_learned},
      {"t5", "T5 causal bucketed relative bias, per head, shared across layers",
       {{"num_buckets", 32}, {"max_distance", 128}}, make_t5},
      {"rope", "rotary embeddings (Su et al.); accepts the inference-time scalings",
       {{"base", 10000.0}}, make_rope},
      {"alibi", "linear distance penalty with geometric head slopes (Press et al.)", json::object(),
       make_alibi},
      {"xpos", "rotary + exponential decay zeta^((i-j)/B) (Sun et al.)",
       {{"base", 10000.0}, {"gamma", 0.4}, {"scale_base", 512.0}}, make_xpos},
      {"kerple", "KERPLE log kernel: -r1 log(1 + r2 (i-j)), learned per head (Chi et al.)",
       json::object(), make_kerple},
      {"fire", "FIRE: MLP of log distance normalised by query position (Li et al.)",
       {{"hidden", 32}, {"c", 1.0}, {"threshold", 0.0}}, make_fire},
  };
  return registry;
}

}  // namespace lb
