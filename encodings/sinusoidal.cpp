// Fixed sinusoidal absolute positions added to the token embeddings. Defined for any position,
// so longer sequences simply use further rows (the model never saw them in training).
#include "encodings/sinusoidal.h"

#include "encodings/encoding.h"

namespace lb {

torch::Tensor sinusoidal_table(int64_t length, int64_t d_model, double base) {
  auto pos = torch::arange(length, torch::kFloat64).unsqueeze(1);
  auto two_i = torch::arange(0, d_model, 2, torch::kFloat64);
  auto angles = pos * torch::pow(base, -two_i / double(d_model));  // [length, d/2]
  // stack(..., -1) then flatten interleaves: sin, cos, sin, cos, ...
  return torch::stack({angles.sin(), angles.cos()}, -1).flatten(1).to(torch::kFloat32);
}

namespace {

class Sinusoidal : public Encoding {
 public:
  using Encoding::Encoding;

  torch::Tensor embed(const torch::Tensor& x) override {
    auto table = table_.get(x.size(1), x.device(), PositionTableCache::Reuse::kSlicePrefix, {0},
                            [&](int64_t n, torch::Device dev) { return sinusoidal_table(n, spec_.d_model, option("base")).to(dev); });
    // The table (rms 0.71) times the token embedding's init std keeps Vaswani et al.'s ratio
    // (sqrt(d)-scaled embeddings of std ~1 plus the unscaled table): with nanoGPT's 0.02 an
    // unscaled table would drown the tokens. "scale" > 0 overrides (0 = model.embedding_std).
    const double scale = double(option("scale")) > 0 ? double(option("scale")) : spec_.embedding_std;
    return x + table * scale;
  }
  nlohmann::json inspect(int64_t T) override {
    auto table = sinusoidal_table(T, spec_.d_model, option("base")).to(torch::kFloat64).contiguous();
    std::vector<std::vector<double>> rows;
    for (int64_t r = 0; r < T; ++r) {
      const double* row = table[r].data_ptr<double>();
      rows.emplace_back(row, row + spec_.d_model);
    }
    return {{"table", rows}};
  }

 private:
  PositionTableCache table_;  // [T, d_model]
};

}  // namespace

std::shared_ptr<Encoding> make_sinusoidal(const EncodingSpec& spec) {
  if (spec.d_model % 2 != 0) throw std::invalid_argument("sinusoidal needs an even model.d_model");
  return std::make_shared<Sinusoidal>(spec);
}

}  // namespace lb
