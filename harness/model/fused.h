// Seeds trained together (horizontal fusion, as HFTA -- Wang et al., MLSys 2021 -- does for small
// models on accelerators): S models of one shape, each with its own initialisation, data order and
// loss, become one model whose weights are stacked along a leading seed dimension. Every matmul of
// the S models becomes one batched matmul, and the per-op overhead that dominates small models on
// CPU is paid once. The math is the solo model's own (block_forward and friends in model.h, which
// take stacked weights as they take one model's); the trainer is harness/train/fused_trainer.h.
//
// Only for encodings without learned position parameters: their position inputs (tables, masks,
// biases) are the same for every seed, built once and shared.
#pragma once
#include <torch/torch.h>
#include <string>
#include <vector>

#include "harness/model/model.h"

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
  // Every stacked weight, [S, ...] each.
  std::vector<torch::Tensor> parameters() const;
  void to(torch::Device device);

 private:
  GPT shape_;  // the first model: its encoding and causal-mask cache build the shared position inputs
  GPTWeights weights_;
};

}  // namespace lb
