// T5 relative position bias: one learned scalar per (bucket, head), added to the attention logits
// of every layer (shared across layers, as in T5).
#include "encodings/t5.h"

#include <cmath>

#include "encodings/encoding.h"

namespace lb {

torch::Tensor t5_bucket(const torch::Tensor& distance, int64_t num_buckets, int64_t max_distance) {
  const int64_t max_exact = num_buckets / 2;
  auto n = distance.to(torch::kInt64).clamp_min(0);
  auto scaled = torch::log(n.to(torch::kFloat32).clamp_min(1) / double(max_exact)) /
                std::log(double(max_distance) / max_exact) * double(num_buckets - max_exact);
  auto large = (scaled.to(torch::kInt64) + max_exact).clamp_max(num_buckets - 1);
  return torch::where(n < max_exact, n, large);
}

namespace {

class T5Bias : public Encoding {
 public:
  explicit T5Bias(const EncodingSpec& spec) : Encoding(spec) {
    const int64_t buckets = option("num_buckets");
    bias_table_ = register_parameter("bias", torch::zeros({buckets, spec.heads}));
  }
  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override {
    auto rows = [&](int64_t a, int64_t b, torch::Device dev) {
      return t5_bucket(relative_distance(a, b, torch::kCPU), option("num_buckets"), option("max_distance")).to(dev);
    };
    auto buckets = q0 > 0 ? rows(q0, q1, device)
                          : buckets_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {0, 1},
                                         [&](int64_t n, torch::Device dev) { return rows(0, n, dev); });
    // Gathered per forward (the table is trained), once for all layers where every row fits.
    return bias_table_.index({buckets}).permute({2, 0, 1});
  }
  nlohmann::json inspect(int64_t T) override {
    auto b = t5_bucket(torch::arange(T), option("num_buckets"), option("max_distance")).contiguous();
    return {{"buckets", std::vector<int64_t>(b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + T)}};
  }
  std::string notes() const override {
    return "distances past max_distance share the last bucket, so the bias is flat beyond it";
  }

 private:
  torch::Tensor bias_table_;     // [num_buckets, H]
  PositionTableCache buckets_;   // [T, T] bucket of (i - j)
};

}  // namespace

std::shared_ptr<Encoding> make_t5(const EncodingSpec& spec) { return std::make_shared<T5Bias>(spec); }

}  // namespace lb
