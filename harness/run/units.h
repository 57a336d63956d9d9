// The units of a run invocation: one (run, training seed) each, with the trained model it needs.
// Models are trained once (all runs of one encoding share it, e.g. rope and its scalings), seeds
// trained fused where train.fuse_seeds asks and the encoding allows, and each unit fine-tuned (if
// its run asks), evaluated and recorded, the report written after every unit.
#pragma once
#include <nlohmann/json.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/data/corpus.h"
#include "harness/eval/windows.h"
#include "harness/model/precision.h"
#include "harness/run/preflight.h"
#include "harness/train/distributed.h"

namespace lb {

// What every unit of one invocation shares.
struct RunContext {
  const Config& config;
  const Corpus& corpus;
  std::vector<int64_t> lengths;  // eval lengths in tokens
  EvalSample sample;             // text data; task data draws its own instances
  int64_t max_length = 0;        // the longest sequence any model sees (eval or fine-tune)
  std::filesystem::path out;
  Compute compute;
  std::shared_ptr<DataParallel> data_parallel;  // null: one process
  bool main() const { return !data_parallel || data_parallel->is_main(); }  // evaluates and writes
  std::string checkpoint(const std::string& key) const { return (out / "checkpoints" / key).string(); }
};

struct Unit {
  const RunSpec* run;
  uint64_t seed;
  nlohmann::json identity;  // training_identity (identity.h)
  std::string key;          // checkpoint name: encoding and the identity's hash
};

// Every (run, seed), seed-major, or the i-th of N shards' (shard_plan.h); records the shard in the report.
std::vector<Unit> select_units(const RunContext& ctx, int shard_index, int shard_count, nlohmann::json& report);
// Tokens still to train and to evaluate for these units.
Workload workload(const RunContext& ctx, const std::vector<Unit>& units);

// Trains what is needed and evaluates every unit not in `finished` (records of an interrupted
// earlier invocation, by unit_name), writing report.json after each. A seed whose training
// diverges is recorded as failed (and so is its run); the others go on.
void run_units(const RunContext& ctx, const std::vector<Unit>& units, const std::map<std::string, nlohmann::json>& finished,
               nlohmann::json& report);

}  // namespace lb
