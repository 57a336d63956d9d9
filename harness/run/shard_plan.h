// How `run --shard i/N` splits a config: trained models of one training seed (each with all its
// runs, e.g. rope and its scalings) are dealt to N shards by estimated cost, largest first, each to the least-loaded shard
// (ties to the lower shard, then config order), so shards finish at about the same time. Derived
// from the config alone: `run --shard-plan N` prints the same plan the shards follow. Torch-free.
#pragma once
#include <string>
#include <vector>

#include "harness/config/config.h"

namespace lb {

struct ShardUnit {
  std::string model;              // encoding and its options: runs sharing it share one training
  uint64_t seed = 0;              // the training seed
  std::vector<std::string> runs;  // in config order
  double cost = 0;                // non-embedding parameters x (training tokens + evaluation tokens / 3)
  int shard = 0;                  // 1-based
};

std::vector<ShardUnit> plan_shards(const Config& c, int shards);
// One line per shard: its runs and share of the total cost.
std::string describe_plan(const std::vector<ShardUnit>& plan, int shards);
// The shard of run `name` with training seed `seed` in `plan` (0 if absent).
int shard_of(const std::vector<ShardUnit>& plan, const std::string& name, uint64_t seed);

}  // namespace lb
