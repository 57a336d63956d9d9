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
  PositionInputs positions(int64_t T, torch::Device) override {
    PositionInputs in;
    in.length = T;
    return in;
  }
  nlohmann::json inspect(int64_t T) override {
    return {{"rows", table_.size(0)}, {"trained_rows", spec_.train_length}};
  }
  std::string notes() const override {
    return fmt::format("positions >= {} use untrained rows (random N(0, 0.02) initialisation)",
                       spec_.train_length);
  }

 private:
  torch::Tensor table_;
};

}  // namespace

std::shared_ptr<Encoding> make_learned(const EncodingSpec& spec) {
  return std::make_shared<Learned>(spec);
}

}  // namespace lb
