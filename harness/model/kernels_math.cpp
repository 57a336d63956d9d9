#include "harness/model/kernels_math.h"

#include <cmath>

namespace lb::kernels {

namespace {

// One row as pairs (x1_i, x2_i) = (x_i, x_{i+half}): o1 = x1 c1 + x2 s1, o2 = x2 c2 + x1 s2.
// Separate restrict pointers per half are what lets GCC vectorize it.
inline void rotate_row(const float* __restrict__ x1, const float* __restrict__ x2, const float* __restrict__ c1,
                       const float* __restrict__ c2, const float* __restrict__ s1, const float* __restrict__ s2,
                       float* __restrict__ o1, float* __restrict__ o2, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = x1[i], b = x2[i];
    o1[i] = a * c1[i] + b * s1[i];
    o2[i] = b * c2[i] + a * s2[i];
  }
}

// bf16 <-> fp32: a bf16 is the upper 16 bits of an fp32; rounding to nearest, ties to even (NaN
// inputs do not occur here: the callers' values are finite or the training step fails anyway).
inline float from_bf16(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
inline uint16_t to_bf16(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline void rotate_row_bf16(const uint16_t* __restrict__ x1, const uint16_t* __restrict__ x2,
                            const float* __restrict__ c1, const float* __restrict__ c2, const float* __restrict__ s1,
                            const float* __restrict__ s2, uint16_t* __restrict__ o1, uint16_t* __restrict__ o2,
                            int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = from_bf16(x1[i]), b = from_bf16(x2[i]);
    o1[i] = to_bf16(a * c1[i] + b * s1[i]);
    o2[i] = to_bf16(b * c2[i] + a * s2[i]);
  }
}

// Abramowitz & Stegun 7.1.26: erfc(z) = (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z), z >= 0,
// absolute error <= 1.5e-7. With z = |x| / sqrt(2), exp(-z^2) = exp(-x^2 / 2) is also what the
// slope's density needs: one exp per element for both.
constexpr float kP = 0.3275911f, kA1 = 0.254829592f, kA2 = -0.284496736f, kA3 = 1.421413741f,
                kA4 = -1.453152027f, kA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;

}  // namespace

__attribute__((target_clones("avx512f", "avx2", "default")))
void rotate_planes(const float* x, const RotaryPlanes& planes, const float* c, const float* s, float* out,
                   int64_t begin, int64_t end, bool transposed) {
  const int64_t hd = planes.hd, half = hd / 2;
  // The gradient: dx_i = d_i c_i + d_{i+half} s_{i+half}, dx_{i+half} = d_{i+half} c_{i+half} + d_i s_i.
  const int64_t s1 = transposed ? half : 0, s2 = transposed ? 0 : half;
  for (int64_t p = begin; p < end; ++p) {
    const float* xr = x + planes.plane_offset(p);
    float* o = out + p * planes.rows * hd;
    for (int64_t t = 0; t < planes.rows; ++t, xr += planes.row_stride, o += hd) {
      const float *ct = c + t * hd, *st = s + t * hd;
      rotate_row(xr, xr + half, ct, ct + half, st + s1, st + s2, o, o + half, half);
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void rotate_planes_bf16(const uint16_t* x, const RotaryPlanes& planes, const float* c, const float* s, uint16_t* out,
                        int64_t begin, int64_t end, bool transposed) {
  const int64_t hd = planes.hd, half = hd / 2;
  const int64_t s1 = transposed ? half : 0, s2 = transposed ? 0 : half;
  for (int64_t p = begin; p < end; ++p) {
    const uint16_t* xr = x + planes.plane_offset(p);
    uint16_t* o = out + p * planes.rows * hd;
    for (int64_t t = 0; t < planes.rows; ++t, xr += planes.row_stride, o += hd) {
      const float *ct = c + t * hd, *st = s + t * hd;
      rotate_row_bf16(xr, xr + half, ct, ct + half, st + s1, st + s2, o, o + half, half);
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void gelu_with_slope(const float* __restrict__ x, float* __restrict__ y, float* __restrict__ slope, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float density = expf(-0.5f * v * v);  // sqrt(2 pi) times the normal density at v
    const float t = 1.0f / (1.0f + kP * kInvSqrt2 * std::fabs(v));
    const float half_erfc = 0.5f * t * (kA1 + t * (kA2 + t * (kA3 + t * (kA4 + t * kA5)))) * density;
    const float cdf = v >= 0.0f ? 1.0f - half_erfc : half_erfc;  // no cancellation in the lower tail
    y[i] = v * cdf;
    slope[i] = cdf + v * kInvSqrt2Pi * density;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void gelu_with_slope_bf16(const uint16_t* __restrict__ x, uint16_t* __restrict__ y, uint16_t* __restrict__ slope,
                          int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = from_bf16(x[i]);
    const float density = expf(-0.5f * v * v);
    const float t = 1.0f / (1.0f + kP * kInvSqrt2 * std::fabs(v));
    const float half_erfc = 0.5f * t * (kA1 + t * (kA2 + t * (kA3 + t * (kA4 + t * kA5)))) * density;
    const float cdf = v >= 0.0f ? 1.0f - half_erfc : half_erfc;
    y[i] = to_bf16(v * cdf);
    slope[i] = to_bf16(cdf + v * kInvSqrt2Pi * density);
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void multiply_bf16(const uint16_t* __restrict__ a, const uint16_t* __restrict__ b, uint16_t* __restrict__ out,
                   int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = to_bf16(from_bf16(a[i]) * from_bf16(b[i]));
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void multiply(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

}  // namespace lb::kernels
