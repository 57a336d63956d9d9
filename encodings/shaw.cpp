// Relative position representations (Shaw, Uszkoreit & Vaswani 2018): learned vectors a^K_d and
// a^V_d of head_dim values for each clipped relative distance d = min(i - j, k) (causal: i >= j),
// per layer and shared by the heads, with k = max_distance. Query i scores key j as
// q_i . (k_j + a^K_d) / sqrt(head_dim) and reads z_i = sum_j alpha_ij (v_j + a^V_d) (a^V with
// option values = 1). Past the clipping distance every key shares a^K_k and a^V_k: beyond k the
// model sees no position at all (NoPE-like, still causal) -- which is why it extrapolates.
#include "encodings/encoding.h"
#include "encodings/options.h"

#include <fmt/format.h>

namespace lb {

// The clipped distance bucket min(i - j, k) of query rows first .. first + rows - 1 and keys
// 0 .. keys - 1 (0 where j > i: the causal mask hides those) -> [rows, keys] int64.
torch::Tensor clipped_distance(int64_t first, int64_t rows, int64_t keys, int64_t k, torch::Device device) {
  return relative_distance(first, first + rows, device).narrow(1, 0, keys).clamp_max(double(k)).to(torch::kInt64);
}

namespace {

class Shaw : public Encoding {
 public:
  explicit Shaw(const EncodingSpec& spec) : Encoding(spec), k_(int64_t(option("max_distance"))) {
    key_ = register_parameter("key", torch::randn({spec.layers, k_ + 1, spec.head_dim()}) * 0.02);
    if (double(option("values")) != 0)
      value_ = register_parameter("value", torch::randn({spec.layers, k_ + 1, spec.head_dim()}) * 0.02);
  }
  PositionInputs positions(int64_t T, torch::Device) override {
    PositionInputs in;
    in.length = T;
    in.contextual = true;
    return in;
  }
  torch::Tensor contextual_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& scores,
                                  int64_t layer, int64_t first) override {
    const int64_t Tq = scores.size(-2), Tk = scores.size(-1);
    // q arrives scaled by 1/sqrt(head_dim): q . a^K carries the paper's scale already.
    auto per_distance = torch::matmul(q.to(torch::kFloat32), key_[layer].t());  // [B, H, Tq, k + 1]
    auto index = clipped_distance(first, Tq, Tk, k_, q.device()).expand({q.size(0), q.size(1), Tq, Tk});
    return per_distance.gather(-1, index);
  }
  torch::Tensor contextual_values(const torch::Tensor& probs, int64_t layer, int64_t first) override {
    if (!value_.defined()) return {};
    const int64_t Tq = probs.size(-2), Tk = probs.size(-1);
    auto index = clipped_distance(first, Tq, Tk, k_, probs.device()).expand(probs.sizes());
    // The attention each query gives to each distance bucket, then the buckets' vectors.
    auto weights = torch::zeros({probs.size(0), probs.size(1), Tq, k_ + 1}, probs.options().dtype(torch::kFloat32))
                       .scatter_add_(-1, index, probs.to(torch::kFloat32));
    return torch::matmul(weights, value_[layer]);
  }
  nlohmann::json inspect(int64_t T) override {
    auto d = clipped_distance(0, T, T, k_, torch::kCPU).contiguous();
    std::vector<std::vector<int64_t>> rows;
    for (int64_t i = 0; i < T; ++i) rows.emplace_back(d[i].data_ptr<int64_t>(), d[i].data_ptr<int64_t>() + T);
    return {{"max_distance", k_}, {"values", value_.defined()}, {"distance_bucket", rows}};
  }
  std::string notes() const override {
    return fmt::format("distances >= {} share one learned vector: past it the model sees no position", k_);
  }

 private:
  int64_t k_;
  torch::Tensor key_, value_;  // [layers, k + 1, head_dim]
};

}  // namespace

std::shared_ptr<Encoding> make_shaw(const EncodingSpec& spec) {
  if (int64_t(spec.options.at("max_distance")) < 1)
    throw OptionError("max_distance", "shaw option \"max_distance\" (the clipping distance k) must be >= 1");
  return std::make_shared<Shaw>(spec);
}

}  // namespace lb
