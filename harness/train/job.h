// A training job: one model's (or fused seeds') recipe, built from the parsed config in one place.
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "harness/config/config.h"
#include "harness/model/precision.h"
#include "harness/train/distributed.h"

namespace lb {

struct TrainJob {
  std::string label;       // for progress lines
  TrainConfig train;       // length, steps, batch, optimiser and schedule
  uint64_t seed = 0;
  bool bf16 = false;
  std::string checkpoint;  // file prefix; "" = no checkpoints
  nlohmann::json identity; // what the checkpoint must have been trained from (null: anything)
  int64_t stop_after = 0;  // leave a partial checkpoint and return after this step (0 = finish)
  // Data-parallel group (null: one process). Each rank takes its slice of every global batch of
  // train.batch_size windows; only rank 0 writes checkpoints.
  std::shared_ptr<DataParallel> data_parallel;
};

// The config's training recipe for one seed.
TrainJob train_job(const Config& c, const std::string& label, const Compute& compute, uint64_t seed);
// A run's fine-tuning recipe (RunSpec::finetune): at finetune.length x L for finetune.steps, lr
// finetune.lr (0 = train.lr / 10), a tenth of the steps (at most 20) of warm-up, and the same
// tokens per step as the base training.
TrainJob finetune_job(const Config& c, const RunSpec& run, const std::string& label, const Compute& compute,
                      uint64_t seed);

}  // namespace lb
