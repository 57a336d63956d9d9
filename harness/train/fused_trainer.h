// Training fused seeds (harness/model/fused.h) with the one training loop (loop.h): one AdamW over
// the stacked weights updates each seed exactly as its own AdamW would (the update is
// elementwise); gradient clipping is per seed, as each solo run clips its own.
#pragma once
#include <vector>

#include "harness/data/sampler.h"
#include "harness/model/fused.h"
#include "harness/train/checkpoint.h"
#include "harness/train/job.h"

namespace lb {

// Trains models[s] with jobs[s] (same recipe, each its own seed) as one fused model; each job's
// stats as train() would report them, with the shared wall time split evenly. No checkpoints are
// written while it runs: a killed fused run starts again (the finished models are saved by the caller).
std::vector<TrainStats> train_fused(std::vector<GPT>& models, const BatchSource& batches,
                                    const std::vector<TrainJob>& jobs, torch::Device device);

}  // namespace lb
