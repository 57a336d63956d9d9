// Transformer-XL (Dai et al. 2019): relative positions and segment-level recurrence. Query i
// scores key j as
//   (q_i . k_j  +  q_i . W_r R_{i-j}  +  u . k_j  +  v . W_r R_{i-j}) / sqrt(head_dim)
// with R_d the sinusoid of the distance d (fixed, never trained), W_r learned per layer, and u, v
// learned global (per head) content and position biases. The model reads text in segments of L
// tokens; each layer also attends to the hidden states of the previous `memory` tokens (cached
// from earlier segments, no gradient), so context past L is memory (the recurrent protocol;
// training runs `segments` consecutive segments per window). Past L distances up to memory + L
// are sinusoids the model saw, which is the paper's argument for why it extrapolates.
#include "encodings/encoding.h"
#include "encodings/options.h"

#include <fmt/format.h>
#include <cmath>

namespace lb {

namespace {

// R_d for d = 0 .. D - 1: [sin(d f), cos(d f)] with f = 10000^(-2i/C), as the paper's code builds it.
torch::Tensor distance_sinusoids(int64_t D, int64_t C, torch::Device device) {
  auto d = torch::arange(D, torch::TensorOptions().dtype(torch::kFloat64)).unsqueeze(1);
  auto f = torch::pow(10000.0, -torch::arange(0, C, 2, torch::kFloat64) / double(C)).unsqueeze(0);
  return torch::cat({(d * f).sin(), (d * f).cos()}, 1).to(torch::kFloat32).to(device);  // [D, C]
}

class TransformerXL : public Encoding {
 public:
  explicit TransformerXL(const EncodingSpec& spec)
      : Encoding(spec),
        memory_(int64_t(option("memory")) > 0 ? int64_t(option("memory")) : spec.train_length),
        segments_(option("segments")) {
    proj_ = register_parameter("relative_proj", torch::randn({spec.layers, spec.d_model, spec.d_model}) * 0.02);
    u_ = register_parameter("u", torch::zeros({spec.heads, spec.head_dim()}));
    v_ = register_parameter("v", torch::zeros({spec.heads, spec.head_dim()}));
  }
  PositionInputs positions(int64_t T, torch::Device) override {
    PositionInputs in;
    in.length = T;
    in.contextual = true;
    return in;
  }
  torch::Tensor contextual_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& scores,
                                  int64_t layer, int64_t first) override {
    const int64_t B = q.size(0), H = q.size(1), hd = q.size(3), Tq = scores.size(-2), Tk = scores.size(-1);
    const int64_t D = first + Tq;  // the largest distance any of these queries has
    // W_r R_d per head: [H, hd, D].
    auto relative = torch::matmul(distance_sinusoids(D, spec_.d_model, q.device()), proj_[layer])
                        .view({D, H, hd})
                        .permute({1, 2, 0});
    auto index = relative_distance(first, first + Tq, q.device()).narrow(1, 0, Tk).to(torch::kInt64);
    const double scale = 1.0 / std::sqrt(double(hd));  // q arrives scaled; u, v, k do not
    auto b = torch::matmul(q.to(torch::kFloat32), relative).gather(-1, index.expand({B, H, Tq, Tk}));
    auto c = torch::matmul(k.to(torch::kFloat32), u_.unsqueeze(-1)).squeeze(-1).unsqueeze(2) * scale;  // [B, H, 1, Tk]
    auto d = torch::matmul(v_.unsqueeze(1), relative).squeeze(1);  // [H, D]
    auto d_ij = d.unsqueeze(1).expand({H, Tq, D}).gather(-1, index.unsqueeze(0).expand({H, Tq, Tk})) * scale;
    return b + c + d_ij.unsqueeze(0);
  }
  int64_t memory_length() const override { return memory_; }
  int64_t train_segments() const override { return segments_; }
  nlohmann::json inspect(int64_t T) override {
    auto r = distance_sinusoids(std::min<int64_t>(T, 4), spec_.d_model, torch::kCPU).to(torch::kFloat64).contiguous();
    std::vector<std::vector<double>> rows;
    for (int64_t d = 0; d < r.size(0); ++d) rows.emplace_back(r[d].data_ptr<double>(), r[d].data_ptr<double>() + r.size(1));
    return {{"memory", memory_}, {"segments", segments_}, {"sinusoid_of_distance_0_to_3", rows}};
  }
  std::string notes() const override {
    return fmt::format("reads text in segments of {} with {} tokens of memory under the recurrent protocol; trains on "
                       "{} consecutive segment(s) per window", spec_.train_length, memory_, segments_);
  }

 private:
  int64_t memory_, segments_;
  torch::Tensor proj_;  // [layers, C, C]
  torch::Tensor u_, v_;  // [H, hd]
};

}  // namespace

std::shared_ptr<Encoding> make_txl(const EncodingSpec& spec) {
  if (int64_t(spec.options.at("memory")) < 0)
    throw OptionError("memory", "txl option \"memory\" (tokens of memory, 0 = train.length) must be >= 0");
  if (int64_t(spec.options.at("segments")) < 1)
    throw OptionError("segments", "txl option \"segments\" (consecutive segments per training window) must be >= 1");
  return std::make_shared<TransformerXL>(spec);
}

}  // namespace lb
