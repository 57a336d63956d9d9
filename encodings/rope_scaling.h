// Inverse frequencies of rotary position embeddings and their inference-time extensions
// (Position Interpolation, NTK-aware, dynamic NTK, YaRN, Llama 3). Pure functions of the
// numbers below, so each formula can be checked against hand-computed values.
#pragma once
#include <torch/torch.h>
#include <string>
#include <vector>

#include "encodings/encoding.h"

namespace lb {

struct RopeFrequencies {
  torch::Tensor inv_freq;        // [head_dim/2] float64, radians per position
  double attention_scale = 1.0;  // multiplies q and k each (so logits by its square)
  double factor = 1.0;           // the s actually used
};

struct ScalingInfo {
  std::string name;
  std::string description;
  nlohmann::json option_defaults;
};
const std::vector<ScalingInfo>& scaling_registry();
const ScalingInfo& scaling_info(const std::string& method);  // throws naming the allowed methods
// Fills defaults and rejects unknown methods/options (messages name the allowed values).
Scaling validate_scaling(Scaling scaling);

// s for a sequence of length T: the fixed factor, or max(1, T / L) when the factor is "auto".
double resolve_factor(const Scaling& scaling, int64_t train_length, int64_t seq_length);

// base^(-2i/d), i = 0 .. d/2-1, computed in double precision.
torch::Tensor rope_inv_freq(int64_t head_dim, double base);

RopeFrequencies rope_frequencies(int64_t head_dim, double base, const Scaling& scaling,
                                 int64_t train_length, int64_t seq_length);

// YaRN's ramp over rotary dimensions: 0 below `low`, 1 above `high` (dimension index units).
torch::Tensor yarn_ramp(int64_t head_dim, double base, int64_t train_length, double beta_fast,
                        double beta_slow);

}  // namespace lb
