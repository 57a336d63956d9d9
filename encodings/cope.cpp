// CoPE, contextual position encoding (Golovneva et al. 2024). A key's position relative to query i
// is not i - j but a count: p_ij = sum over t = j..i of the gates g_it = sigmoid(q_i . k_t), so
// a head can count words, sentences or whatever its gates open on. The logit gains q_i . e(p_ij),
// e interpolated linearly between learned vectors at floor(p) and ceil(p); positions are clamped
// at npos_max - 1. Each layer has its own vectors (shared by its heads), initialised to zero as in
// the authors' module. Past L nothing is new to a query unless its counts pass what training saw.
#include "encodings/encoding.h"
#include "encodings/options.h"

#include <fmt/format.h>
#include <cmath>

namespace lb {
namespace {

class Cope : public Encoding {
 public:
  explicit Cope(const EncodingSpec& spec)
      : Encoding(spec),
        npos_(int64_t(option("npos_max")) > 0 ? int64_t(option("npos_max")) : spec.train_length) {
    embeddings_ = register_parameter("pos_emb", torch::zeros({spec.layers, spec.head_dim(), npos_}));
  }
  PositionInputs positions(int64_t T, torch::Device) override {
    PositionInputs in;
    in.length = T;
    in.contextual = true;
    return in;
  }
  torch::Tensor contextual_logits(const torch::Tensor& q, const torch::Tensor&, const torch::Tensor& scores,
                                  int64_t layer, int64_t) override {
    // In fp32: a count over hundreds of gates is off by whole positions in bf16.
    auto gates = torch::sigmoid(scores.to(torch::kFloat32));  // 0 where the mask put -inf
    auto position = gates.flip(-1).cumsum(-1).flip(-1).clamp_max(double(npos_ - 1));
    auto below = position.floor();
    auto weight = position - below;
    // The authors score the unscaled query; ours arrives scaled by 1/sqrt(head_dim).
    auto per_position = torch::matmul(q.to(torch::kFloat32), embeddings_[layer]) * std::sqrt(double(spec_.head_dim()));
    auto low = per_position.gather(-1, below.to(torch::kInt64));
    auto high = per_position.gather(-1, position.ceil().to(torch::kInt64));
    return high * weight + low * (1 - weight);
  }
  nlohmann::json inspect(int64_t T) override {
    // With every gate at 1/2 (q.k = 0) the count is (i - j + 1) / 2: the last query's row.
    std::vector<double> row;
    for (int64_t j = 0; j < T; ++j) row.push_back(std::min(double(npos_ - 1), 0.5 * double(T - j)));
    return {{"npos_max", npos_}, {"layers", spec_.layers}, {"last_query_positions_at_half_gates", row}};
  }
  std::string notes() const override {
    return fmt::format("positions are gated counts, clamped at {}; a query past L sees new counts only where its "
                       "gates open on more than {} keys", npos_ - 1, npos_ - 1);
  }

 private:
  int64_t npos_;
  torch::Tensor embeddings_;  // [layers, head_dim, npos_max]
};

}  // namespace

std::shared_ptr<Encoding> make_cope(const EncodingSpec& spec) {
  if (int64_t(spec.options.at("npos_max")) < 0 || int64_t(spec.options.at("npos_max")) == 1)
    throw OptionError("npos_max", "cope option \"npos_max\" must be 0 (= train_length) or >= 2");
  return std::make_shared<Cope>(spec);
}

}  // namespace lb
