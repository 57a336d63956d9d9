// AdamW (Loshchilov & Hutter 2019) as libtorch's torch::optim::AdamW computes it, one pass per
// parameter: libtorch 1.13's step is eight tensor ops per parameter (decay, two moment updates,
// square root, two divisions, bias corrections, the update), each a pass over memory and a
// dispatch; for a small model those dominate the optimizer. Same options, the same state
// (exp_avg, exp_avg_sq, step) under the same keys, so checkpoints are interchangeable; equal to
// libtorch's within float rounding (tests/test_model.cpp). fp32 CPU parameters take the fused loop
// (train/adamw_math.cpp); any other parameter takes libtorch's own step.
#pragma once
#include <torch/torch.h>
#include <vector>

namespace lb {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace lb
