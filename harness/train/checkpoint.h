// Checkpoints: tensor files named by step, then a state file written atomically that names them,
// so a kill at any point leaves the previous state pointing at complete files. The state records
// the identity of what is trained (the config parts that determine the weights); a checkpoint of
// another identity is never resumed or reused.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>

#include "harness/model/model.h"

namespace lb {

struct TrainStats {
  int64_t steps = 0, tokens = 0;
  double seconds = 0, tokens_per_second = 0, final_loss = 0, first_loss = 0;
  nlohmann::json to_json() const;
  static TrainStats from_json(const nlohmann::json& j);
};

// What a checkpoint at `prefix` holds for a model of `identity` (null identity: any).
struct CheckpointState {
  bool exists = false;    // a state file of this identity is there
  bool complete = false;  // training finished
  int64_t step = 0;
  TrainStats stats;
};
CheckpointState read_checkpoint(const std::string& prefix, const nlohmann::json& identity);

// Loads model (and optimizer) weights; false, with the checkpoint set aside as *.corrupt and the
// model restored, when any of it cannot be read.
bool load_checkpoint(GPT& model, torch::optim::AdamW* optimizer, const std::string& prefix, const std::string& label);
void save_checkpoint(GPT& model, torch::optim::AdamW& optimizer, const std::string& prefix,
                     const nlohmann::json& identity, int64_t step, bool complete, const TrainStats& stats);

// Steps done by the checkpoint at `prefix` (0 when there is none of this identity).
int64_t checkpoint_step(const std::string& prefix, const nlohmann::json& identity);

}  // namespace lb
