// Sliding-window attention as an encoding (Beltagy et al. 2020's local attention; StreamingLLM's
// attention sinks, Xiao et al. 2023): query i sees keys j with i - j < width, plus the first
// `sinks` positions always. No other position signal (NoPE inside the window). Past L nothing
// changes for a query: it sees at most width keys -- which is why a window alone reproduces much
// of ALiBi's flat perplexity. width 0 = train_length / 2. Built as an additive bias (-inf outside).
#include "encodings/encoding.h"

#include <fmt/format.h>
#include <limits>

namespace lb {
namespace {

class Window : public Encoding {
 public:
  explicit Window(const EncodingSpec& spec)
      : Encoding(spec),
        width_(int64_t(option("width")) > 0 ? int64_t(option("width")) : std::max<int64_t>(1, spec.train_length / 2)),
        sinks_(option("sinks")) {}
  PositionInputs positions(int64_t T, torch::Device) override {
    PositionInputs in;
    in.length = T;
    return in;
  }
  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override {
    if (q0 > 0) return window_bias(q0, q1, width_, sinks_).to(device);
    return bias_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {1, 2},
                     [&](int64_t n, torch::Device dev) { return window_bias(0, n, width_, sinks_).to(dev); });
  }
  nlohmann::json inspect(int64_t T) override {
    auto visible = (window_bias(0, T, width_, sinks_)[0] == 0).to(torch::kInt64).contiguous();
    std::vector<std::vector<int64_t>> rows;
    for (int64_t i = 0; i < T; ++i) rows.emplace_back(visible[i].data_ptr<int64_t>(), visible[i].data_ptr<int64_t>() + T);
    return {{"width", width_}, {"sinks", sinks_}, {"visible", rows}};
  }
  std::string notes() const override {
    return fmt::format("each query sees at most the last {} tokens{}", width_,
                       sinks_ > 0 ? fmt::format(" and the first {}", sinks_) : std::string());
  }

  // [1, q1 - q0, q1]: 0 where query i in [q0, q1) may see key j (i - j < width, or j < sinks),
  // -inf elsewhere. The causal mask (j > i) is the model's.
  static torch::Tensor window_bias(int64_t q0, int64_t q1, int64_t width, int64_t sinks) {
    auto distance = relative_distance(q0, q1, torch::kCPU);
    auto key = torch::arange(q1, torch::kFloat32).unsqueeze(0).expand({q1 - q0, q1});
    auto visible = (distance < double(width)).logical_or(key < double(sinks));
    return torch::where(visible, torch::zeros({q1 - q0, q1}),
                        torch::full({q1 - q0, q1}, -std::numeric_limits<float>::infinity()))
        .unsqueeze(0);
  }

 private:
  int64_t width_, sinks_;
  PositionTableCache bias_;  // [1, T, T]
};

}  // namespace

std::shared_ptr<Encoding> make_window(const EncodingSpec& spec) {
  if (int64_t(spec.options.at("width")) < 0 || int64_t(spec.options.at("sinks")) < 0)
    throw std::invalid_argument("window options \"width\" and \"sinks\" must be >= 0 (width 0 = train_length / 2)");
  return std::make_shared<Window>(spec);
}

}  // namespace lb
