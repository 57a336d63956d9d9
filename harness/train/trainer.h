// Training one model: AdamW, linear warm-up + cosine decay (loop.h), gradient clipping, bf16
// autocast, data-parallel gradient averaging, and checkpoints that let a killed run resume where
// it stopped (checkpoint.h).
#pragma once
#include <torch/torch.h>
#include <string>
#include <vector>

#include "harness/data/sampler.h"
#include "harness/model/model.h"
#include "harness/train/adamw.h"
#include "harness/train/checkpoint.h"
#include "harness/train/job.h"

namespace lb {

// Trains `model` on `batches` (resuming from job.checkpoint if a partial one of job.identity
// exists; returning the stored stats at once if a complete one does; an unreadable checkpoint is
// set aside). Throws NumericError when the loss is not finite, Interrupted (after saving a
// checkpoint) on SIGINT/SIGTERM.
TrainStats train(GPT& model, const BatchSource& batches, const TrainJob& job, torch::Device device);
// The same on random windows of a token stream.
TrainStats train(GPT& model, const torch::Tensor& stream, const TrainJob& job, torch::Device device);
// Mean nll over the targets the batch's weights count (all when it has none).
torch::Tensor batch_loss(const torch::Tensor& logits, const TrainBatch& batch);

// AdamW (adamw.h) with the job's betas and learning rate: weight decay on `decay`, none on `no_decay`.
FusedAdamW make_adamw(const std::vector<torch::Tensor>& decay, const std::vector<torch::Tensor>& no_decay,
                               const TrainJob& job);
// The complete checkpoint of job (a model trained before, or elsewhere: fused seeds) into model.
bool load_complete_checkpoint(GPT& model, const TrainJob& job, TrainStats* stats);
// Writes a complete checkpoint at job.checkpoint for a model trained elsewhere (fused seeds).
void save_trained(GPT& model, const TrainJob& job, const TrainStats& stats);

}  // namespace lb
