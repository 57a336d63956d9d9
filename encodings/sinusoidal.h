#pragma once
#include <torch/torch.h>

namespace lb {
// Vaswani et al. 2017, interleaved: PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(..).
torch::Tensor sinusoidal_table(int64_t length, int64_t d_model, double base);
}  // namespace lb
