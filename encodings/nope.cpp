// NoPE (Kazemnejad et al. 2023): no positional information at all; the causal mask alone lets a
// decoder infer positions.
#include "encodings/encoding.h"

namespace lb {
namespace {

class NoPE : public Encoding {
 public:
  using Encoding::Encoding;
  nlohmann::json inspect(int64_t) override { return nlohmann::json::object(); }
};

}  // namespace

std::shared_ptr<Encoding> make_nope(const EncodingSpec& spec) { return std::make_shared<NoPE>(spec); }

}  // namespace lb
