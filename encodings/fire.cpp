// FIRE (Li et al. 2023, "Functional Interpolation for Relative Positions"): bias(i, j) =
// f(psi(i - j) / (psi(max(threshold, i)) + eps)) with psi(x) = log(|c| x + 1) and f a small MLP
// (1 -> hidden -> heads). Normalising by the query position maps every length onto [0, 1], which
// is what lets it interpolate rather than extrapolate. As in the authors' module: c starts at 0.1,
// and the threshold is |multiplier| x an initial L (the training length unless given) with the
// multiplier learned from 1 -- a threshold learned in tokens would move by about lr per Adam step,
// i.e. not at all. One bias for all layers (computed once per forward).
#include "encodings/encoding.h"

namespace lb {
namespace {

class Fire : public Encoding {
 public:
  explicit Fire(const EncodingSpec& spec) : Encoding(spec) {
    const int64_t hidden = option("hidden");
    mlp_ = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(1, hidden),
                                                        torch::nn::ReLU(),
                                                        torch::nn::Linear(hidden, spec.heads)));
    c_ = register_parameter("c", torch::tensor({double(option("c"))}));
    const double threshold = option("threshold");
    initial_threshold_ = threshold > 0 ? threshold : double(spec.train_length);
    threshold_multiplier_ = register_parameter("threshold_multiplier", torch::ones({1}));
  }
  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override {
    auto distance = q0 > 0 ? relative_distance(q0, q1, device)
                           : distance_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {0, 1},
                                           [](int64_t n, torch::Device dev) { return relative_distance(n, dev); });
    auto c = c_.abs();
    auto psi = [&](const torch::Tensor& x) { return torch::log1p(c * x); };
    auto query = torch::arange(q0, q1, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    auto normaliser = psi(torch::maximum(query, threshold())).unsqueeze(1) + kEps;  // [Tq, 1]
    auto input = (psi(distance) / normaliser).unsqueeze(-1);                     // [Tq, Tk, 1]
    return mlp_->forward(input).permute({2, 0, 1});                              // [H, Tq, Tk]
  }
  nlohmann::json inspect(int64_t) override {
    return {{"c", c_.abs().item<double>()}, {"threshold", threshold().item<double>()}};
  }

 private:
  static constexpr double kEps = 1e-6;
  torch::Tensor threshold() const { return (threshold_multiplier_ * initial_threshold_).abs(); }

  torch::nn::Sequential mlp_{nullptr};
  torch::Tensor c_, threshold_multiplier_;
  double initial_threshold_;
  PositionTableCache distance_;  // [T, T]
};

}  // namespace

std::shared_ptr<Encoding> make_fire(const EncodingSpec& spec) { return std::make_shared<Fire>(spec); }

}  // namespace lb
