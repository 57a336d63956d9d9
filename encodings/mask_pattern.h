// The shared shape of encodings that are an attention pattern and nothing else (window and
// sinks, Longformer, BigBird): no rotary tables, an additive bias of 0 where a query sees a key and -inf elsewhere.
// A subclass gives pattern(q0, q1) -> [1, q1 - q0, q1]; whole-sequence patterns are cached and
// sliced, blocks of rows (harness/model/attention.h) are built for the rows asked.
#pragma once
#include "encodings/encoding.h"

namespace lb {

class MaskPatternEncoding : public Encoding {
 public:
  using Encoding::Encoding;
  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override {
    if (q0 > 0) return pattern(q0, q1).to(device);
    return bias_.get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {1, 2},
                     [&](int64_t n, torch::Device dev) { return pattern(0, n).to(dev); });
  }

 protected:
  // [1, q1 - q0, q1]: 0 where query q0 + r sees key j, -inf elsewhere (causality is the model's).
  virtual torch::Tensor pattern(int64_t q0, int64_t q1) const = 0;
  // The pattern as 0/1 rows [T][T] (1: visible), for `inspect`.
  std::vector<std::vector<int64_t>> visible_rows(int64_t T) const {
    auto visible = (pattern(0, T)[0] == 0).to(torch::kInt64).contiguous();
    std::vector<std::vector<int64_t>> rows;
    for (int64_t i = 0; i < T; ++i) rows.emplace_back(visible[i].data_ptr<int64_t>(), visible[i].data_ptr<int64_t>() + T);
    return rows;
  }

 private:
  PositionTableCache bias_;  // [1, T, T]
};

}  // namespace lb
