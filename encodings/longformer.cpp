// Longformer's attention pattern (Beltagy, Peters & Cohan 2020), causal: a sliding window plus
// designated global tokens. Query i sees key j (j <= i, the model's causal mask) when j is inside
// its window (i - j < width), when j is global (every `global_every`-th position, and the first
// `global_first` positions), or when i itself is global (global tokens attend to everything before
// them). NoPE otherwise. How it differs: `window` has no globals; `sinks` (StreamingLLM) keeps the
// first tokens visible but its sink queries get no more than a window; here globals may sit
// anywhere and see everything. Past L a query sees at most width + its globals.
#include "encodings/mask_pattern.h"
#include "encodings/options.h"

#include <fmt/format.h>
#include <limits>

namespace lb {

namespace {

class Longformer : public MaskPatternEncoding {
 public:
  explicit Longformer(const EncodingSpec& spec)
      : MaskPatternEncoding(spec),
        width_(int64_t(option("width")) > 0 ? int64_t(option("width")) : std::max<int64_t>(1, spec.train_length / 2)),
        every_(option("global_every")),
        first_(option("global_first")) {}
  nlohmann::json inspect(int64_t T) override {
    return {{"width", width_}, {"global_every", every_}, {"global_first", first_}, {"visible", visible_rows(T)}};
  }
  std::string notes() const override {
    return fmt::format("each query sees the last {} tokens and the global ones (every {}th, the first {}); global "
                       "queries see everything before them", width_, every_, first_);
  }

 private:
  torch::Tensor global(const torch::Tensor& position) const {
    auto g = position < double(first_);
    if (every_ > 0) g = g.logical_or(torch::remainder(position, double(every_)) == 0);
    return g;
  }
  // [1, q1 - q0, q1]: 0 where visible, -inf elsewhere.
  torch::Tensor pattern(int64_t q0, int64_t q1) const override {
    auto query = torch::arange(q0, q1, torch::kFloat32).unsqueeze(1), key = torch::arange(q1, torch::kFloat32).unsqueeze(0);
    auto visible = ((query - key) < double(width_)).logical_or(global(key)).logical_or(global(query));
    return torch::where(visible, torch::zeros({1}), torch::full({1}, -std::numeric_limits<float>::infinity()))
        .unsqueeze(0);
  }

  int64_t width_, every_, first_;
};

}  // namespace

std::shared_ptr<Encoding> make_longformer(const EncodingSpec& spec) {
  const int64_t width = spec.options.at("width"), every = spec.options.at("global_every"),
                first = spec.options.at("global_first");
  if (width < 0 || width > spec.train_length)
    throw OptionError("width", fmt::format("longformer option \"width\" must be in [0, train.length = {}] (0 = L/2), "
                                           "got {}", spec.train_length, width));
  if (every < 0 || first < 0)
    throw OptionError(every < 0 ? "global_every" : "global_first",
                      "longformer options \"global_every\" and \"global_first\" must be >= 0 (0 = none)");
  return std::make_shared<Longformer>(spec);
}

}  // namespace lb
