// ALiBi (Press et al. 2022, "Train Short, Test Long"): no position embeddings; each head adds
// -m_h * (i - j) to the logit of query i attending to key j.
#include "encodings/alibi.h"

#include <cmath>

#include "encodings/encoding.h"

namespace lb {

std::vector<double> alibi_slopes(int heads) {
  auto power_of_two_slopes = [](int n) {
    std::vector<double> slopes;
    const double start = std::pow(2.0, -8.0 / n);
    for (int i = 0; i < n; ++i) slopes.push_back(std::pow(start, i + 1));
    return slopes;
  };
  const int closest = 1 << int(std::floor(std::log2(heads)));
  auto slopes = power_of_two_slopes(closest);
  if (closest == heads) return slopes;
  auto extra = alibi_slopes(2 * closest);
  for (int i = 0; int(slopes.size()) < heads; i += 2) slopes.push_back(extra[i]);
  return slopes;
}

namespace {

class Alibi : public Encoding {
 public:
  using Encoding::Encoding;

  PositionInputs positions(int64_t T, torch::Device device) override {
    if (!bias_.defined() || bias_.size(-1) < T || bias_.device() != device) {
      auto slopes = torch::tensor(alibi_slopes(int(spec_.heads)), torch::kFloat32).to(device);
      bias_ = -slopes.view({-1, 1, 1}) * relative_distance(T, device).unsqueeze(0);
    }
    PositionInputs in;
    in.length = T;
    in.bias = slice_square(bias_, T);
    return in;
  }

  nlohmann::json inspect(int64_t) override { return {{"slopes", alibi_slopes(int(spec_.heads))}}; }

 private:
  torch::Tensor bias_;  // [H, N, N] for the longest N seen; shorter sequences use a corner
};

}  // namespace

std::shared_ptr<Encoding> make_alibi(const EncodingSpec& spec) { return std::make_shared<Alibi>(spec); }

}  // namespace lb
