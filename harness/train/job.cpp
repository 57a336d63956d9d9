#include "harness/train/job.h"

#include <algorithm>

namespace lb {

TrainJob train_job(const Config& c, const std::string& label, const Compute& compute, uint64_t seed) {
  TrainJob job;
  job.label = label;
  job.train = c.train;
  job.seed = seed;
  job.bf16 = compute.bf16;
  return job;
}

TrainJob finetune_job(const Config& c, const RunSpec& run, const std::string& label, const Compute& compute,
                      uint64_t seed) {
  TrainJob job = train_job(c, label, compute, seed);
  job.train.length = c.eval_length(run.finetune.length);
  job.train.steps = run.finetune.steps;
  job.train.lr = run.finetune.lr > 0 ? run.finetune.lr : c.train.lr * 0.1;
  job.train.warmup_steps = std::min<int64_t>(job.train.steps / 10, 20);
  job.train.batch_size = std::max<int64_t>(1, c.train.batch_size * c.train.length / job.train.length);
  return job;
}

}  // namespace lb
