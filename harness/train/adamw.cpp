#include "harness/train/adamw.h"

#include <ATen/Parallel.h>
#include <cmath>

#include "harness/train/adamw_math.h"

namespace lb {

namespace {

bool fused_applies(const torch::Tensor& p) {
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous() && p.grad().is_contiguous() &&
         p.grad().scalar_type() == torch::kFloat32 && !p.grad().is_sparse();
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!o.amsgrad(), "FusedAdamW: amsgrad is not supported");
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      if (!state().count(key)) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state()[key] = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*state()[key]);
      s.step(s.step() + 1);
      const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
      const double correction1 = 1 - std::pow(beta1, double(s.step())), correction2 = 1 - std::pow(beta2, double(s.step()));
      const kernels::AdamWStep k{float(1 - o.lr() * o.weight_decay()), float(beta1), float(1 - beta1), float(beta2),
                                 float(1 - beta2), float(std::sqrt(correction2)), float(o.eps()),
                                 float(o.lr() / correction1)};
      if (!fused_applies(p)) {  // libtorch's own tensor ops, step for step (other devices and dtypes)
        const auto& g = p.grad();
        p.mul_(1 - o.lr() * o.weight_decay());
        s.exp_avg().mul_(beta1).add_(g, 1 - beta1);
        s.exp_avg_sq().mul_(beta2).addcmul_(g, g, 1 - beta2);
        p.addcdiv_(s.exp_avg(), (s.exp_avg_sq().sqrt() / std::sqrt(correction2)).add_(o.eps()), -o.lr() / correction1);
        continue;
      }
      float *pp = p.data_ptr<float>(), *m = s.exp_avg().data_ptr<float>(), *v = s.exp_avg_sq().data_ptr<float>();
      const float* g = p.grad().data_ptr<float>();
      at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
        kernels::adamw_update(pp + begin, g + begin, m + begin, v + begin, end - begin, k);
      });
    }
  }
  return loss;
}

}  // namespace lb
