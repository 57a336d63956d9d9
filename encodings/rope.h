// Rotary position embeddings (Su et al. 2021), shared by `rope` and `xpos`.
#pragma once
#include "encodings/encoding.h"
#include "encodings/rope_scaling.h"

namespace lb {

class Rope : public Encoding {
 public:
  explicit Rope(EncodingSpec spec) : Encoding(std::move(spec)) {}
  PositionInputs positions(int64_t T, torch::Device device) override;
  torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) override;
  void set_scaling(const Scaling& scaling) override;
  nlohmann::json inspect(int64_t T) override;
  std::string notes() const override;
  int64_t rescale_chunk() const override;

 protected:
  RopeFrequencies frequencies(int64_t T) const;
  int64_t rotary_pairs() const;  // rotated dimension pairs (rotary_fraction of head_dim / 2)
  std::pair<torch::Tensor, torch::Tensor> cached_rotation(int64_t n) const;  // kv_cache rows (rope.cpp)
  // Per-position q/k scales for subclasses (xPos): [2, T, head_dim/2] (q, k), or undefined.
  virtual torch::Tensor scales(int64_t T) const { return {}; }
  // Whether the scales depend on T itself (not just on the position).
  virtual bool scales_depend_on_length() const { return false; }

  Scaling scaling_;
  // [parts, T, head_dim/2]: cos, sin (, q_scale, k_scale) (, ReRoPE's far q cos, sin, k cos, sin)
  PositionTableCache tables_;
  PositionTableCache mask_;  // [1, T, T] LM-Infinite's Lambda mask
};

}  // namespace lb
