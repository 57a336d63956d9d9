// Learned absolute position embeddings (GPT-2 style). The table has one row per position up to
// the longest evaluated length; rows at positions >= the training length never receive a gradient,
// so past L the model sees its random initialisation (N(0, 0.02)). That is the honest
// "train short, test long" behaviour of a learned table, and the report says so.
#include "encodings/encoding.h"

#include <fmt/format.h>

namespace lb {
namespace {

class Learned : public Encoding {
 public:
  explicit Learned(const EncodingSpec& spec) : Encoding(spec) {
    table_ = register_parameter(
        "table", torch::randn({std::max(spec.max_length, spec.train_length), spec.d_model}) * 0.02);
  }
  torch::Tensor embed(const torch::Tensor& x) override {
    const int64_t T = x.size(1);
    if (T > table_.size(0))
      throw std::invalid_argument(fmt::format(
          "learned position table has {} rows but a sequence of {} tokens was given", table_.size(0), T));
    return x + table_.narrow(0, 0, T);
  }
  void extend_positions(int64_t trained, int64_t target, const std::string& rule) override {
    if (target > table_.size(0))
      throw std::invalid_argument(fmt::format("learned table has {} rows, fewer than the target length {}",
                                              table_.size(0), target));
    torch::NoGradGuard no_grad;
    const auto old = table_.narrow(0, 0, trained).clone();
    if (rule == "copy") {
      for (int64_t start = trained; start < target; start += trained) {
        const int64_t n = std::min(trained, target - start);
        table_.narrow(0, start, n).copy_(old.narrow(0, 0, n));
      }
    } else if (rule == "interpolate") {
      // Row p samples the trained table at p (L - 1) / (T - 1), linearly between its neighbours.
      auto at = torch::arange(target, torch::kFloat64) * double(trained - 1) / double(std::max<int64_t>(1, target - 1));
      auto below = at.floor().clamp_max(double(trained - 1)).to(torch::kInt64);
      auto above = (below + 1).clamp_max(trained - 1);
      auto w = (at - below.to(torch::kFloat64)).to(torch::kFloat32).unsqueeze(1);
      table_.narrow(0, 0, target).copy_(old.index_select(0, below) * (1 - w) + old.index_select(0, above) * w);
    } else {
      throw std::invalid_argument(fmt::format("extend rule \"{}\"; allowed: copy, interpolate", rule));
    }
    extended_ = fmt::format("rows extended to {} by {}", target, rule);
  }
  nlohmann::json inspect(int64_t T) override {
    return {{"rows", table_.size(0)}, {"trained_rows", spec_.train_length}};
  }
  std::string notes() const override {
    if (!extended_.empty()) return extended_ + " before fine-tuning";
    return fmt::format("positions >= {} use untrained rows (random N(0, 0.02) initialisation)",
                       spec_.train_length);
  }

 private:
  torch::Tensor table_;
  std::string extended_;
};

}  // namespace

std::shared_ptr<Encoding> make_learned(const EncodingSpec& spec) {
  return std::make_shared<Learned>(spec);
}

}  // namespace lb
