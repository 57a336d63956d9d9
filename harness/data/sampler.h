// Training batches: random windows of a token stream, reproducible from (seed, step).
#pragma once
#include <torch/torch.h>

namespace lb {

// Random training windows [B, T+1] (int64), drawn from `stream` with a generator seeded from
// (seed, step) so a resumed run sees the same batches.
torch::Tensor sample_windows(const torch::Tensor& stream, int64_t batch, int64_t length, uint64_t seed,
                             int64_t step);

}  // namespace lb
