// Sliding-window attention as an encoding (Beltagy et al. 2020's local attention; StreamingLLM's
// attention sinks, Xiao et al. 2023): query i sees keys j with i - j < width, plus the first
// `sinks` positions always. No other position signal (NoPE inside the window). Past L nothing
// changes for a query: it sees at most width keys -- which is why a window alone reproduces much
// of ALiBi's flat perplexity. width 0 = train_length / 2. Built as an additive bias (-inf outside).
#include "encodings/mask_pattern.h"

#include <fmt/format.h>

namespace lb {
namespace {

class Window : public MaskPatternEncoding {
 public:
  explicit Window(const EncodingSpec& spec)
      : MaskPatternEncoding(spec),
        width_(int64_t(option("width")) > 0 ? int64_t(option("width")) : std::max<int64_t>(1, spec.train_length / 2)),
        sinks_(option("sinks")) {}
  nlohmann::json inspect(int64_t T) override {
    return {{"width", width_}, {"sinks", sinks_}, {"visible", visible_rows(T)}};
  }
  std::string notes() const override {
    return fmt::format("each query sees at most the last {} tokens{}", width_,
                       sinks_ > 0 ? fmt::format(" and the first {}", sinks_) : std::string());
  }

  torch::Tensor pattern(int64_t q0, int64_t q1) const override { return window_sinks_pattern(q0, q1, width_, sinks_); }

 private:
  int64_t width_, sinks_;
};

}  // namespace

std::shared_ptr<Encoding> make_window(const EncodingSpec& spec) {
  if (int64_t(spec.options.at("width")) < 0 || int64_t(spec.options.at("sinks")) < 0)
    throw std::invalid_argument("window options \"width\" and \"sinks\" must be >= 0 (width 0 = train_length / 2)");
  return std::make_shared<Window>(spec);
}

}  // namespace lb
