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

  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override {
    auto rows = [&](int64_t a, int64_t b, torch::Device dev) {
      auto slopes = torch::tensor(alibi_slopes(int(spec_.heads)), torch::kFloat32).to(dev);
      return -slopes.view({-1, 1, 1}) * relative_distance(a, b, dev).unsqueeze(0);  // [H, b - a, b]
    };
    if (q0 > 0) return rows(q0, q1, device);
    return bias_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {1, 2},
                     [&](int64_t n, torch::Device dev) { return rows(0, n, dev); });
  }

  nlohmann::json inspect(int64_t) override { return {{"slopes", alibi_slopes(int(spec_.heads))}}; }

 private:
  PositionTableCache bias_;  // [H, T, T]
};

}  // namespace

std::shared_ptr<Encoding> make_alibi(const EncodingSpec& spec) { return std::make_shared<Alibi>(spec); }

}  // namespace lb
