// KERPLE, logarithmic variant (Chi et al. 2022): bias = -r1 * log(1 + r2 * (i - j)) with learned
// r1, r2 > 0 per head. Like ALiBi a decaying bias, but logarithmic, so distant tokens keep some
// weight.
#include "encodings/encoding.h"

namespace lb {
namespace {

class Kerple : public Encoding {
 public:
  explicit Kerple(const EncodingSpec& spec) : Encoding(spec) {
    // Uniform initialisation as in the reference code.
    r1_ = register_parameter("r1", torch::rand({spec.heads, 1, 1}) * 2.0);
    r2_ = register_parameter("r2", torch::rand({spec.heads, 1, 1}));
  }
  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override {
    auto distance = q0 > 0 ? relative_distance(q0, q1, device)
                           : distance_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {0, 1},
                                           [](int64_t n, torch::Device dev) { return relative_distance(n, dev); });
    // Positivity as the reference keeps it: the parameters themselves are projected onto
    // [eps, inf) before use (a clamp at use would zero their gradient for good once below eps).
    {
      torch::NoGradGuard no_grad;
      r1_.clamp_min_(kEps);
      r2_.clamp_min_(kEps);
    }
    return -r1_ * torch::log1p(r2_ * distance.unsqueeze(0));
  }
  nlohmann::json inspect(int64_t) override {
    auto flat = [](const torch::Tensor& t) {
      auto c = t.detach().flatten().to(torch::kFloat64).contiguous();
      return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    };
    return {{"r1", flat(r1_)}, {"r2", flat(r2_)}};
  }

 private:
  static constexpr double kEps = 1e-2;
  torch::Tensor r1_, r2_;   // [H, 1, 1]
  PositionTableCache distance_;  // [T, T]
};

}  // namespace

std::shared_ptr<Encoding> make_kerple(const EncodingSpec& spec) { return std::make_shared<Kerple>(spec); }

}  // namespace lb
