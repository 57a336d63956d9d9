// CPU kernels for the model's two costliest elementwise steps, each one pass with its own backward
// (inner loops in kernels_math.cpp), on fp32 or bf16 values (bf16: computed in fp32, rounded once).
// Anything else -- CUDA, shapes they do not cover -- takes the tensor-op path in model.cpp.
#pragma once
#include <torch/torch.h>

namespace lb {

// Rotary embedding of q or k: out = x * c + swap_halves(x) * s, read from x's strided view of the
// qkv projection and written contiguous [B, H, T, head_dim] (what the attention's products read).
// Replaces roll, two multiplies, an add and the products' contiguous copy, forward and backward.
// Applies to x [B, H, T, hd] fp32 or bf16 on the CPU with unit stride along hd and c, s [T, hd]
// fp32 contiguous tables that need no gradient; the result has x's dtype.
bool rotary_kernel_applies(const torch::Tensor& x, const torch::Tensor& c, const torch::Tensor& s);
torch::Tensor rotary_kernel(const torch::Tensor& x, const torch::Tensor& c, const torch::Tensor& s);

// Exact GELU (erf, as torch::nn::functional::gelu; within 1e-6 of it) whose forward pass also
// stores the slope, so the backward pass is one multiply instead of libtorch's second erf-and-exp
// pass (stored in x's dtype). fp32 and bf16 CPU tensors; anything else goes to
// torch::nn::functional::gelu.
torch::Tensor gelu(const torch::Tensor& x);

}  // namespace lb
