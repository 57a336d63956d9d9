// xPos (Sun et al. 2022, "A Length-Extrapolatable Transformer"): RoPE whose rotation is paired
// with an exponential decay, q_n scaled by zeta^(n/B) and k_m by zeta^(-m/B), so the logit
// carries zeta^((n-m)/B) and still depends only on the offset n - m.
#include "encodings/rope.h"

namespace lb {
namespace {

class XPos : public Rope {
 public:
  using Rope::Rope;

 protected:
  torch::Tensor scales(int64_t T) const override {
    const int64_t half = spec_.head_dim() / 2;
    const double gamma = option("gamma"), scale_base = option("scale_base");
    // fp32 like the tables themselves.
    // zeta_i = (2i/d + gamma) / (1 + gamma): low dims decay fast, high dims barely.
    auto zeta = (torch::arange(half, torch::kFloat32) * 2.0 / spec_.head_dim() + gamma) / (1 + gamma);
    // Positions centred on the middle of the sequence keep the scales near 1 (as in torchscale).
    auto exponent = (torch::arange(T, torch::kFloat32) - double(T / 2)) / scale_base;
    auto q_scale = torch::pow(zeta.unsqueeze(0), exponent.unsqueeze(1));
    return torch::stack({q_scale, 1.0 / q_scale});
  }
  bool scales_depend_on_length() const override { return true; }
};

}  // namespace

std::shared_ptr<Encoding> make_xpos(const EncodingSpec& spec) {
  if (spec.head_dim() % 2 != 0)
    throw std::invalid_argument("xpos needs an even head dimension (model.d_model / model.heads)");
  return std::make_shared<XPos>(spec);
}

}  // namespace lb
