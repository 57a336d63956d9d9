// The inner loops of kernels.h, torch-free: plain loops over float arrays that GCC vectorizes,
// compiled for AVX-512, AVX2 and baseline x86-64 and chosen at run time (target_clones). This file
// is compiled with -ffast-math, which is what lets GCC call glibc's vectorized expf, and without
// the precompiled header (see CMakeLists.txt).
#pragma once
#include <cstdint>

namespace lb::kernels {

// Rotary embedding of `planes` planes of `rows` rows of hd values each; plane p starts at
// x + plane_offset(p) (the caller's strides), row t of a plane at + t * row_stride, and its output
// is written contiguous at out + (p * rows + t) * hd. Pairs are (i, i + hd/2):
// out_i = x_i c_i + x_{i+hd/2} s_i and out_{i+hd/2} = x_{i+hd/2} c_{i+hd/2} + x_i s_{i+hd/2},
// with c, s [rows, hd]. `transposed` applies the transposed map (the gradient): the halves of s
// exchange roles.
struct RotaryPlanes {
  int64_t heads, rows, hd, batch_stride, head_stride, row_stride;
  int64_t plane_offset(int64_t p) const { return (p / heads) * batch_stride + (p % heads) * head_stride; }
};
void rotate_planes(const float* x, const RotaryPlanes& planes, const float* c, const float* s, float* out,
                   int64_t begin, int64_t end, bool transposed);
// The same on bf16 values (uint16_t: the upper half of an fp32), computed in fp32 and rounded to
// nearest even once, as the tensor ops under autocast do.
void rotate_planes_bf16(const uint16_t* x, const RotaryPlanes& planes, const float* c, const float* s, uint16_t* out,
                        int64_t begin, int64_t end, bool transposed);

// Exact (erf) GELU with its slope: y = x Φ(x), slope = Φ(x) + x φ(x), for i in [0, n); Φ to
// within 1.5e-7 (absolute), from one exp per element.
void gelu_with_slope(const float* x, float* y, float* slope, int64_t n);
void gelu_with_slope_bf16(const uint16_t* x, uint16_t* y, uint16_t* slope, int64_t n);
// out[i] = a[i] * b[i]
void multiply(const float* a, const float* b, float* out, int64_t n);
void multiply_bf16(const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n);

}  // namespace lb::kernels
