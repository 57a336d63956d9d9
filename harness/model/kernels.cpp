#include "harness/model/kernels.h"

#include <ATen/Parallel.h>

#include "harness/model/kernels_math.h"

namespace lb {

namespace {

bool fp32_cpu(const torch::Tensor& t) { return t.scalar_type() == torch::kFloat32 && t.device().is_cpu(); }
bool bf16_cpu(const torch::Tensor& t) { return t.scalar_type() == torch::kBFloat16 && t.device().is_cpu(); }
// bf16 storage as the loops see it.
const uint16_t* bits(const torch::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()); }
uint16_t* bits(torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

torch::Tensor rotate_all(const torch::Tensor& x, const torch::Tensor& c, const torch::Tensor& s, bool transposed) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), hd = x.size(3);
  auto out = torch::empty({B, H, T, hd}, x.options());
  const kernels::RotaryPlanes planes{H, T, hd, x.stride(0), x.stride(1), x.stride(2)};
  const float *cp = c.data_ptr<float>(), *sp = s.data_ptr<float>();
  if (x.scalar_type() == torch::kBFloat16) {
    const uint16_t* xp = bits(x);
    uint16_t* op = bits(out);
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
      kernels::rotate_planes_bf16(xp, planes, cp, sp, op, begin, end, transposed);
    });
    return out;
  }
  const float* xp = x.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    kernels::rotate_planes(xp, planes, cp, sp, op, begin, end, transposed);
  });
  return out;
}

struct RotaryFunction : public torch::autograd::Function<RotaryFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& c,
                               const torch::Tensor& s) {
    ctx->save_for_backward({c, s});
    ctx->saved_data["type"] = x.scalar_type();
    return rotate_all(x, c, s, false);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto tables = ctx->get_saved_variables();
    auto g = grads[0].stride(-1) == 1 ? grads[0] : grads[0].contiguous();
    if (g.scalar_type() != ctx->saved_data["type"].toScalarType()) g = g.to(ctx->saved_data["type"].toScalarType());
    return {rotate_all(g, tables[0], tables[1], true), torch::Tensor(), torch::Tensor()};
  }
};

// Elementwise work in chunks large enough to amortize the parallel region.
template <typename F>
void for_chunks(int64_t n, F&& f) {
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) { f(begin, end - begin); });
}

struct GeluFunction : public torch::autograd::Function<GeluFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input) {
    const auto x = input.contiguous();
    auto y = torch::empty_like(x), slope = torch::empty_like(x);
    if (x.scalar_type() == torch::kBFloat16) {
      const uint16_t* xp = bits(x);
      uint16_t *yp = bits(y), *sp = bits(slope);
      for_chunks(x.numel(), [&](int64_t at, int64_t n) { kernels::gelu_with_slope_bf16(xp + at, yp + at, sp + at, n); });
    } else {
      const float* xp = x.data_ptr<float>();
      float *yp = y.data_ptr<float>(), *sp = slope.data_ptr<float>();
      for_chunks(x.numel(), [&](int64_t at, int64_t n) { kernels::gelu_with_slope(xp + at, yp + at, sp + at, n); });
    }
    ctx->save_for_backward({slope});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto slope = ctx->get_saved_variables()[0];
    const auto g = grads[0].to(slope.scalar_type()).contiguous();
    auto dx = torch::empty_like(slope);
    if (slope.scalar_type() == torch::kBFloat16) {
      const uint16_t *gp = bits(g), *sp = bits(slope);
      uint16_t* dp = bits(dx);
      for_chunks(dx.numel(), [&](int64_t at, int64_t n) { kernels::multiply_bf16(gp + at, sp + at, dp + at, n); });
    } else {
      const float *gp = g.data_ptr<float>(), *sp = slope.data_ptr<float>();
      float* dp = dx.data_ptr<float>();
      for_chunks(dx.numel(), [&](int64_t at, int64_t n) { kernels::multiply(gp + at, sp + at, dp + at, n); });
    }
    return {dx};
  }
};

}  // namespace

bool rotary_kernel_applies(const torch::Tensor& x, const torch::Tensor& c, const torch::Tensor& s) {
  return x.dim() == 4 && x.size(3) % 2 == 0 && x.stride(3) == 1 && (fp32_cpu(x) || bf16_cpu(x)) && fp32_cpu(c) &&
         fp32_cpu(s) &&
         c.dim() == 2 && c.size(0) == x.size(2) && c.size(1) == x.size(3) && c.is_contiguous() &&
         s.sizes() == c.sizes() && s.is_contiguous() && !c.requires_grad() && !s.requires_grad();
}

torch::Tensor rotary_kernel(const torch::Tensor& x, const torch::Tensor& c, const torch::Tensor& s) {
  return RotaryFunction::apply(x, c, s);
}

torch::Tensor gelu(const torch::Tensor& x) {
  if (!fp32_cpu(x) && !bf16_cpu(x)) return torch::nn::functional::gelu(x);
  return GeluFunction::apply(x);
}

}  // namespace lb
