// The AdamW update of n fp32 values, torch-free (compiled for AVX-512, AVX2 and baseline x86-64).
#pragma once
#include <cstdint>

namespace lb::kernels {

struct AdamWStep {
  float decay;        // 1 - lr * weight_decay
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float sqrt_bias_correction2;  // sqrt(1 - beta2^t)
  float eps;
  float step_size;    // lr / (1 - beta1^t)
};
// p *= decay; m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
// p -= step_size * m / (sqrt(v) / sqrt_bias_correction2 + eps)
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s);

}  // namespace lb::kernels
