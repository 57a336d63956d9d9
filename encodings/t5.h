#pragma once
#include <torch/torch.h>

namespace lb {
// T5's causal relative-position buckets (Raffel et al. 2020): distances 0..num_buckets/2-1 get
// their own bucket; larger distances share logarithmically wider buckets up to max_distance,
// beyond which everything falls in the last bucket. distance: integer tensor of i - j >= 0.
torch::Tensor t5_bucket(const torch::Tensor& distance, int64_t num_buckets, int64_t max_distance);
}  // namespace lb
