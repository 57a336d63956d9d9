#include "harness/train/fused_trainer.h"

#include <fmt/format.h>

#include "harness/model/precision.h"
#include "harness/train/loop.h"
#include "harness/train/trainer.h"

namespace lb {

namespace {

// The same parameter groups as the solo trainer: weight decay on the transformer's matrices only.
FusedAdamW fused_optimizer(const FusedGPT& fused, const TrainJob& job) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& t : fused.parameters()) (t.dim() >= 3 ? decay : no_decay).push_back(t);
  return make_adamw(decay, no_decay, job);
}

// clip_grad_norm_ per seed: each seed's gradient is scaled by min(1, max_norm / (its norm + 1e-6)).
void clip_per_seed(const FusedGPT& fused, double max_norm) {
  torch::NoGradGuard no_grad;
  torch::Tensor squares;
  for (const auto& t : fused.parameters()) {
    if (!t.grad().defined()) continue;
    auto s = t.grad().to(torch::kFloat32).pow(2).flatten(1).sum(1);
    squares = squares.defined() ? squares + s : s;
  }
  if (!squares.defined()) return;
  const auto coef = (max_norm / (squares.sqrt() + 1e-6)).clamp_max(1.0);
  for (auto t : fused.parameters()) {
    if (!t.grad().defined()) continue;
    std::vector<int64_t> shape(size_t(t.dim()), 1);
    shape[0] = -1;
    t.mutable_grad().mul_(coef.view(shape).to(t.grad().scalar_type()));
  }
}

}  // namespace

std::vector<TrainStats> train_fused(std::vector<GPT>& models, const BatchSource& batches,
                                    const std::vector<TrainJob>& jobs, torch::Device device) {
  const TrainJob& job = jobs.at(0);
  for (const auto& j : jobs)
    if (j.train.steps != job.train.steps || j.train.length != job.train.length ||
        j.train.batch_size != job.train.batch_size || j.train.lr != job.train.lr || j.bf16 != job.bf16)
      throw std::invalid_argument("fused seeds need one training recipe");
  const int64_t S = int64_t(models.size()), T = job.train.length;
  for (auto& m : models) m->to(device);  // the trained weights are copied back there
  FusedGPT fused(models);
  fused.to(device);
  auto optimizer = fused_optimizer(fused, job);
  torch::Tensor loss;
  LoopHooks hooks;
  hooks.forward = [&](int64_t step) {
    // Seed s draws the batch its solo run would draw at this step.
    std::vector<TrainBatch> per_seed;
    for (const auto& j : jobs) per_seed.push_back(batches(j.train.batch_size, T, j.seed, step));
    std::vector<torch::Tensor> tokens;
    for (const auto& b : per_seed) tokens.push_back(b.tokens);
    const auto stacked = torch::stack(tokens).to(device);
    torch::Tensor logits;
    {
      AutocastScope autocast(job.bf16, device);
      logits = fused.forward(stacked.narrow(2, 0, T));
    }
    // The sum of the seeds' own mean losses: each seed's weights get exactly its own gradient.
    std::vector<torch::Tensor> losses;
    for (int64_t s = 0; s < S; ++s) {
      TrainBatch b = per_seed[size_t(s)];
      b.tokens = stacked[s];
      if (b.weights.defined()) b.weights = b.weights.to(device);
      losses.push_back(batch_loss(logits[s], b));
    }
    loss = torch::stack(losses);
    const auto values = loss.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    return StepLosses{std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + S),
                      interrupt_requested()};
  };
  hooks.update = [&](double lr) {
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer.zero_grad();
    loss.sum().backward();
    if (job.train.grad_clip > 0) clip_per_seed(fused, job.train.grad_clip);
    optimizer.step();
  };
  hooks.loss_name = [&](size_t s) { return fmt::format("training loss of seed {}", jobs[s].seed); };
  hooks.log_suffix = fmt::format(" ({} seeds fused)", S);
  hooks.interrupt_note = " (fused seeds restart from step 0)";
  std::vector<TrainStats> stats(static_cast<size_t>(S));
  run_training_loop(job, 0, hooks, stats);
  fused.unstack_into(models);
  return stats;
}

}  // namespace lb
