// Training loop: AdamW, linear warm-up + cosine decay, gradient clipping, bf16 autocast, progress
// lines, and checkpoints that let a killed run resume where it stopped.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>

#include "harness/config.h"
#include "harness/data/sampler.h"
#include "harness/distributed.h"
#include "harness/errors.h"
#include "harness/model/model.h"

namespace lb {

struct TrainJob {
  std::string label;       // for progress lines
  TrainConfig train;       // length, steps, batch, optimiser and schedule
  uint64_t seed = 1234;
  bool bf16 = true;
  std::string checkpoint;  // file prefix; "" = no checkpoints
  int64_t stop_after = 0;  // leave a partial checkpoint and return after this step (0 = finish)
  // Data-parallel group (null: one process). Each rank takes its slice of every global batch of
  // train.batch_size windows; only rank 0 writes checkpoints.
  std::shared_ptr<DataParallel> data_parallel;
};

TrainJob train_job(const Config& config, const std::string& label, bool bf16, uint64_t seed);

struct TrainStats {
  int64_t steps = 0, tokens = 0;
  double seconds = 0, tokens_per_second = 0, final_loss = 0, first_loss = 0;
  nlohmann::json to_json() const;
  static TrainStats from_json(const nlohmann::json& j);
};

double learning_rate(const TrainJob& job, int64_t step);
// The progress line's "12.3k tok/s ETA 1m05s": the rate over the last log window, and the time the
// remaining steps take at that rate.
std::string rate_and_eta(int64_t window_steps, double window_seconds, int64_t tokens_per_step, int64_t steps_left);
// The error of a loss that stopped being finite, with what to change; `what` names the loss.
NumericError non_finite_loss(const std::string& what, double value, int64_t step, double lr);
// AdamW with the job's betas and learning rate: weight decay on `decay`, none on `no_decay`.
torch::optim::AdamW make_adamw(const std::vector<torch::Tensor>& decay, const std::vector<torch::Tensor>& no_decay,
                               const TrainJob& job);

// Trains `model` on `stream` (resuming from job.checkpoint if a partial one exists; returning the
// stored stats at once if a complete one does; an unreadable checkpoint is set aside). Throws
// NumericError when the loss is not finite, Interrupted (after saving a checkpoint) on SIGINT/SIGTERM.
TrainStats train(GPT& model, const BatchSource& batches, const TrainJob& job, torch::Device device);
// The same on random windows of a token stream.
TrainStats train(GPT& model, const torch::Tensor& stream, const TrainJob& job, torch::Device device);
// Mean nll over the targets the batch's weights count (all when it has none).
torch::Tensor batch_loss(const torch::Tensor& logits, const TrainBatch& batch);

bool load_complete_checkpoint(GPT& model, const std::string& prefix, TrainStats* stats);
// Writes a complete checkpoint at job.checkpoint for a model trained elsewhere (fused seeds).
void save_trained(GPT& model, const TrainJob& job, const TrainStats& stats);
// Steps done by the checkpoint at `prefix` (0 when there is none).
int64_t checkpoint_step(const std::string& prefix);

}  // namespace lb
