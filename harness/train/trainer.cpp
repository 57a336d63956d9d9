#include "harness/train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "harness/core/errors.h"
#include "harness/model/precision.h"
#include "harness/train/adamw.h"
#include "harness/train/loop.h"

namespace lb {

FusedAdamW make_adamw(const std::vector<torch::Tensor>& decay, const std::vector<torch::Tensor>& no_decay,
                               const TrainJob& job) {
  auto options = torch::optim::AdamWOptions(job.train.lr).betas({job.train.beta1, job.train.beta2}).weight_decay(job.train.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  auto no_decay_options = options;
  no_decay_options.weight_decay(0.0);
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(no_decay_options));
  return FusedAdamW(groups, options);
}

namespace {

// Weight decay on the transformer's matrices (token embedding, projections) only: not on norms,
// and not on encoding parameters (a decayed position table would shrink its untrained rows, and
// biases like T5's or KERPLE's are not weights to regularise).
FusedAdamW make_optimizer(GPT& model, const TrainJob& job) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& item : model->named_parameters()) {
    const bool encoding = item.key().rfind("encoding.", 0) == 0;
    (item.value().dim() >= 2 && !encoding ? decay : no_decay).push_back(item.value());
  }
  return make_adamw(decay, no_decay, job);
}

void set_lr(FusedAdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace

bool load_complete_checkpoint(GPT& model, const TrainJob& job, TrainStats* stats) {
  const CheckpointState state = read_checkpoint(job.checkpoint, job.identity);
  if (!state.exists || !state.complete) return false;
  if (!load_checkpoint(model, nullptr, job.checkpoint, job.label)) return false;
  if (stats) *stats = state.stats;
  return true;
}

torch::Tensor batch_loss(const torch::Tensor& logits, const TrainBatch& batch) {
  const int64_t T = logits.size(1);
  auto nll = token_nll(logits, batch.tokens.narrow(1, 1, T));
  if (!batch.weights.defined()) return nll.mean();
  return (nll * batch.weights).sum() / batch.weights.sum().clamp_min(1.0);
}

void save_trained(GPT& model, const TrainJob& job, const TrainStats& stats) {
  if (job.checkpoint.empty()) return;
  auto optimizer = make_optimizer(model, job);  // no moments to keep: the model is finished
  save_checkpoint(model, optimizer, job.checkpoint, job.identity, stats.steps, true, stats);
}

TrainStats train(GPT& model, const torch::Tensor& stream, const TrainJob& job, torch::Device device) {
  return train(model, stream_batches(stream), job, device);
}

TrainStats train(GPT& model, const BatchSource& batches, const TrainJob& given, torch::Device device) {
  // An encoding with memory trains on windows of several consecutive segments of L (the model
  // reads them one after another, carrying its memory).
  TrainJob job = given;
  job.train.length *= model->encoding().train_segments();
  model->to(device);
  std::vector<TrainStats> stats(1);
  if (load_complete_checkpoint(model, job, &stats[0])) {
    spdlog::info("[{}] trained model found at {} ({} steps); not retraining", job.label, job.checkpoint,
                 stats[0].steps);
    return stats[0];
  }
  model->train();
  auto optimizer = std::make_unique<FusedAdamW>(make_optimizer(model, job));
  int64_t start = 0;
  if (const CheckpointState state = read_checkpoint(job.checkpoint, job.identity); state.exists) {
    if (load_checkpoint(model, optimizer.get(), job.checkpoint, job.label)) {
      start = state.step;
      stats[0] = state.stats;
      spdlog::info("[{}] resuming from step {} ({})", job.label, start, job.checkpoint);
    } else {
      optimizer = std::make_unique<FusedAdamW>(make_optimizer(model, job));  // drop a half-loaded state
    }
  }
  const auto& dp = job.data_parallel;
  int64_t local_batch = job.train.batch_size, first_row = 0;
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters()) params.push_back(p);
  if (dp) {
    if (job.train.batch_size % dp->world() != 0)
      throw ConfigError(fmt::format("config key \"train.batch_size\" ({}) must be divisible by the data-parallel world "
                                    "size ({})", job.train.batch_size, dp->world()));
    local_batch = job.train.batch_size / dp->world();
    first_row = dp->rank() * local_batch;
    // Every rank must resume from the step rank 0 resumed from, then start from rank 0's weights.
    auto steps = torch::tensor({double(start)}, torch::kFloat64);
    dp->broadcast({steps});
    if (steps.item<double>() != double(start))
      throw std::runtime_error(fmt::format("data-parallel rank {} resumed from step {} but rank 0 from step {}; remove "
                                           "the checkpoint directory and rerun", dp->rank(), start, steps.item<double>()));
    dp->broadcast(params);
  }
  torch::Tensor loss;
  LoopHooks hooks;
  hooks.forward = [&](int64_t step) {
    // Every rank draws the same global batch from (seed, step) and trains on its own rows.
    TrainBatch batch = batches(job.train.batch_size, job.train.length, job.seed, step);
    batch.tokens = batch.tokens.narrow(0, first_row, local_batch).to(device);
    if (batch.weights.defined()) batch.weights = batch.weights.narrow(0, first_row, local_batch).to(device);
    {
      AutocastScope autocast(job.bf16, device);
      loss = batch_loss(model->forward(batch.tokens.narrow(1, 0, job.train.length)), batch);
    }
    // With several ranks the logged loss is the global batch's mean, the same on every rank, so
    // every rank stops together on a non-finite one.
    StepLosses out{{loss.item<double>()}, interrupt_requested()};
    if (dp) {  // one small all-reduce: the mean loss, and whether any rank was signalled
      auto shared = torch::tensor({out.values[0], out.interrupted ? 1.0 : 0.0}, torch::kFloat64);
      dp->average({shared});
      out.values[0] = shared[0].item<double>();
      out.interrupted = shared[1].item<double>() > 0;
    }
    return out;
  };
  hooks.update = [&](double lr) {
    set_lr(*optimizer, lr);
    optimizer->zero_grad();
    loss.backward();
    if (dp) {
      std::vector<torch::Tensor> grads;
      for (auto& p : params)
        if (p.grad().defined()) grads.push_back(p.grad());
      dp->average(grads);  // the gradient of the global batch's mean loss, on every rank
    }
    if (job.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), job.train.grad_clip);
    optimizer->step();
  };
  if (!job.checkpoint.empty() && (!dp || dp->is_main()))
    hooks.save = [&](int64_t steps, bool complete, const std::vector<TrainStats>& s) {
      save_checkpoint(model, *optimizer, job.checkpoint, job.identity, steps, complete, s[0]);
    };
  hooks.loss_name = [](size_t) { return std::string("training loss"); };
  hooks.interrupt_note = job.checkpoint.empty() ? "" : " (checkpoint saved)";
  run_training_loop(job, start, hooks, stats);
  return stats[0];
}

}  // namespace lb
