// DeBERTa's disentangled attention (He et al. 2021), causal: relative positions are embedded once
// (P, [k, d_model], shared by every layer) and projected per layer into key-side and query-side
// relative vectors r^K = P W^K_r and r^Q = P W^Q_r (per head). Query i scores key j as
//   (q_i . k_j + q_i . r^K_d + k_j . r^Q_d) / sqrt(3 head_dim),   d = min(i - j, k - 1):
// content-to-content, content-to-position and position-to-content, the sqrt(3 d) scaling of the
// paper for three terms. Past k - 1 every distance shares the last bucket (DeBERTa's clipping): the
// position terms are flat beyond it. (DeBERTa v2's log buckets past k/2 are not used here.)
#include "encodings/encoding.h"
#include "encodings/options.h"

#include <fmt/format.h>
#include <cmath>

namespace lb {

torch::Tensor clipped_distance(int64_t first, int64_t rows, int64_t keys, int64_t k, torch::Device device);

namespace {

class Deberta : public Encoding {
 public:
  explicit Deberta(const EncodingSpec& spec) : Encoding(spec), k_(int64_t(option("max_distance"))) {
    shared_ = register_parameter("relative", torch::randn({k_, spec.d_model}) * 0.02);
    key_proj_ = register_parameter("key_proj", torch::randn({spec.layers, spec.d_model, spec.d_model}) * 0.02);
    query_proj_ = register_parameter("query_proj", torch::randn({spec.layers, spec.d_model, spec.d_model}) * 0.02);
  }
  PositionInputs positions(int64_t T, torch::Device) override {
    PositionInputs in;
    in.length = T;
    in.contextual = true;
    in.logit_scale = 1.0 / std::sqrt(3.0);  // q.k / sqrt(3 head_dim): three terms
    return in;
  }
  torch::Tensor contextual_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& scores,
                                  int64_t layer, int64_t first) override {
    const int64_t B = q.size(0), H = q.size(1), hd = q.size(3), Tq = scores.size(-2), Tk = scores.size(-1);
    // [k, H, hd] -> [H, hd, k]: each head's relative vectors.
    auto per_head = [&](const torch::Tensor& proj) {
      return torch::matmul(shared_, proj[layer]).view({k_, H, hd}).permute({1, 2, 0});
    };
    auto index = clipped_distance(first, Tq, Tk, k_ - 1, q.device()).expand({B, H, Tq, Tk});
    // Content to position: q arrives scaled by 1/sqrt(3 head_dim).
    auto c2p = torch::matmul(q.to(torch::kFloat32), per_head(key_proj_)).gather(-1, index);
    // Position to content: key j against the query-side vector of its distance to query i.
    auto per_key = torch::matmul(k.to(torch::kFloat32), per_head(query_proj_)) / std::sqrt(3.0 * double(hd));  // [B, H, Tk, k]
    auto p2c = per_key.unsqueeze(2).expand({B, H, Tq, Tk, k_}).gather(-1, index.unsqueeze(-1)).squeeze(-1);
    return c2p + p2c;
  }
  nlohmann::json inspect(int64_t T) override {
    auto d = clipped_distance(0, T, T, k_ - 1, torch::kCPU)[T - 1].contiguous();
    return {{"max_distance", k_}, {"scale", "1/sqrt(3 head_dim)"},
            {"last_query_buckets", std::vector<int64_t>(d.data_ptr<int64_t>(), d.data_ptr<int64_t>() + T)}};
  }
  std::string notes() const override {
    return fmt::format("distances >= {} share the last bucket: the position terms are flat beyond it", k_ - 1);
  }

 private:
  int64_t k_;
  torch::Tensor shared_, key_proj_, query_proj_;
};

}  // namespace

std::shared_ptr<Encoding> make_deberta(const EncodingSpec& spec) {
  if (int64_t(spec.options.at("max_distance")) < 2)
    throw OptionError("max_distance", "deberta option \"max_distance\" (relative buckets k) must be >= 2");
  return std::make_shared<Deberta>(spec);
}

}  // namespace lb
