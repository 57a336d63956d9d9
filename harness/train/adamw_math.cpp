#include "harness/train/adamw_math.h"

#include <cmath>

namespace lb::kernels {

__attribute__((target_clones("avx512f", "avx2", "default")))
void adamw_update(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                  int64_t n, const AdamWStep& s) {
  const AdamWStep k = s;  // locals, so the loop does not reload them through the reference
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i];
    const float mi = m[i] * k.beta1 + grad * k.one_minus_beta1;
    const float vi = v[i] * k.beta2 + grad * grad * k.one_minus_beta2;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / k.sqrt_bias_correction2 + k.eps;
    p[i] = p[i] * k.decay - k.step_size * mi / denom;
  }
}

}  // namespace lb::kernels
