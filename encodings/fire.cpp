// FIRE (Li et al. 2023, "Functional Interpolation for Relative Positions"): bias(i, j) =
// f(psi(i - j) / psi(max(threshold, i))) with psi(x) = log(c x + 1) and f a small MLP (1 -> hidden
// -> heads). Normalising by the query position maps every length onto [0, 1], which is what
// lets it interpolate rather than extrapolate. One bias for all layers (computed once per forward).
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
    log_c_ = register_parameter("log_c", torch::log(torch::tensor({double(option("c"))})));
    const double threshold = option("threshold");
    threshold_ = register_parameter(
        "threshold", torch::tensor({threshold > 0 ? threshold : double(spec.train_length)}));
  }
  PositionInputs positions(int64_t T, torch::Device device) override {
    auto distance = distance_.get(T, device, PositionTableCache::Reuse::kSlicePrefix, {0, 1}, relative_distance);
    auto c = log_c_.exp();
    auto psi = [&](const torch::Tensor& x) { return torch::log1p(c * x); };
    auto query = torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    auto normaliser = psi(torch::maximum(query, threshold_.abs())).unsqueeze(1);  // [T, 1]
    auto input = (psi(distance) / normaliser).unsqueeze(-1);                     // [T, T, 1]
    PositionInputs in;
    in.length = T;
    in.bias = mlp_->forward(input).permute({2, 0, 1});                           // [H, T, T]
    return in;
  }
  nlohmann::json inspect(int64_t) override {
    return {{"c", log_c_.exp().item<double>()}, {"threshold", threshold_.abs().item<double>()}};
  }

 private:
  torch::nn::Sequential mlp_{nullptr};
  torch::Tensor log_c_, threshold_;
  PositionTableCache distance_;  // [T, T]
};

}  // namespace

std::shared_ptr<Encoding> make_fire(const EncodingSpec& spec) { return std::make_shared<Fire>(spec); }

}  // namespace lb
