// `lengthbench run`: train each distinct model once, evaluate every run at every length and
// protocol, and write report.json / report.md / plots. Resumes after interruption: trained
// models come back from checkpoints and finished runs from the previous report.
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "harness/config/config.h"
#include "harness/train/distributed.h"

namespace lb {

struct RunOptions {
  std::string out_dir;
  // --shard i/N (1-based): run only this slice. Runs sharing a trained model (e.g. rope and its
  // scalings) stay in one shard; trained models are dealt to shards by cost (shard_plan.h).
  int shard_index = 0, shard_count = 0;  // 0: no sharding
  // Data-parallel group (harness/train/distributed.h); null: train in this process alone.
  std::shared_ptr<DataParallel> data_parallel;
};

// Sets libtorch's intra-op threads for the process (0 = all cores) and returns the count; every
// entry point calls it once, first.
int use_threads(int requested);
nlohmann::json run_experiment(const Config& config, const RunOptions& options);

}  // namespace lb
