// Seeds trained together (horizontal fusion, as HFTA -- Wang et al., MLSys 2021 -- does for small
// models on accelerators): S models of one shape, each with its own initialisation, data order and
// loss, become one model whose weights are stacked along a leading seed dimension. Every matmul of
// the S models becomes one batched matmul, and the per-op overhead that dominates small models on
// CPU is paid once. One AdamW over the stacked weights updates each seed exactly as its own AdamW
// would (the update is elementwise); gradient clipping is per seed, as each solo run clips its own.
//
// Only for encodings without learned position parameters: their position inputs (tables, masks,
// biases) are the same for every seed, built once and shared.
#pragma once
#include <torch/torch.h>
#include <map>
#include <string>
#include <vector>

#include "harness/data/sampler.h"
#include "harness/model/model.h"
#include "harness/model/trainer.h"

namespace lb {

// Whether these models can be fused: the same shape, and an encoding with no parameters.
bool can_fuse(const std::vector<GPT>& models, std::string* why = nullptr);

class FusedGPT {
 public:
  // Stacks copies of the models' weights (the models are not changed until unstack_into).
  explicit FusedGPT(const std::vector<GPT>& models);
  // tokens [S, B, T] -> logits [S, B, T, V] (fp32), seed s through its own weights.
  torch::Tensor forward(const torch::Tensor& tokens);
  // Writes the trained weights back into the models, seed s into models[s].
  void unstack_into(std::vector<GPT>& models) const;
  // The stacked weights by the solo models' parameter names: [S, ...] each.
  const std::vector<std::pair<std::string, torch::Tensor>>& parameters() const { return params_; }
  void to(torch::Device device);

 private:
  const torch::Tensor& p(const std::string& name) const;
  torch::Tensor layer_norm(const torch::Tensor& x, const std::string& name) const;  // x [S, N, C]
  torch::Tensor linear(const torch::Tensor& x, const std::string& name) const;      // x [S, N, in]

  GPT shape_;  // the first model: its encoding and causal-mask cache build the shared position inputs
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::map<std::string, size_t> index_;
};

// Trains models[s] with jobs[s] (same recipe, each its own seed) as one fused model; each job's
// stats as train() would report them, with the shared wall time split evenly. No checkpoints are
// written while it runs: a killed fused run starts again (the finished models are saved by the caller).
std::vector<TrainStats> train_fused(std::vector<GPT>& models, const BatchSource& batches,
                                    const std::vector<TrainJob>& jobs, torch::Device device);

}  // namespace lb
