// The one training loop, shared by a single model (trainer.h) and fused seeds
// (fused_trainer.h): learning-rate schedule, the finiteness check, progress lines with rate and
// ETA, statistics, checkpoints at train.checkpoint_every, stopping early and on a signal. What
// differs -- how a step's loss is computed and how weights are updated -- comes in as hooks.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "harness/core/errors.h"
#include "harness/train/checkpoint.h"
#include "harness/train/job.h"

namespace lb {

struct StepLosses {
  std::vector<double> values;  // one per model trained (the global batch's mean under data parallelism)
  bool interrupted = false;    // a signal arrived (on any rank)
};

struct LoopHooks {
  // The forward pass of `step` (losses kept for update).
  std::function<StepLosses(int64_t step)> forward;
  // Backward pass and optimizer step at learning rate `lr`.
  std::function<void(double lr)> update;
  // Writes a checkpoint after `steps` steps; empty: none (fused seeds, other data-parallel ranks).
  std::function<void(int64_t steps, bool complete, const std::vector<TrainStats>& stats)> save;
  std::function<std::string(size_t model)> loss_name;  // "training loss" / "... of seed 2", for errors
  std::string log_suffix;      // after the progress line, e.g. " (3 seeds fused)"
  std::string interrupt_note;  // after "interrupted while training X at step N"
};

// Runs steps [start, job.train.steps) of the models whose statistics so far are `stats` (one per
// model; resumed ones carry their earlier time and losses). Returns when done or at job.stop_after;
// throws NumericError on a non-finite loss and Interrupted after saving on a signal.
void run_training_loop(const TrainJob& job, int64_t start, LoopHooks& hooks, std::vector<TrainStats>& stats);

double learning_rate(const TrainJob& job, int64_t step);
// The progress line's "12.3k tok/s ETA 1m05s": the rate over the last log window, and the time the
// remaining steps take at that rate.
std::string rate_and_eta(int64_t window_steps, double window_seconds, int64_t tokens_per_step, int64_t steps_left);
// The error of a loss that stopped being finite, with what to change; `what` names the loss.
NumericError non_finite_loss(const std::string& what, double value, int64_t step, double lr);

}  // namespace lb
