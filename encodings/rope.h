// Rotary position embeddings (Su et al. 2021), shared by `rope` and `xpos`.
#pragma once
#include <map>

#include "encodings/encoding.h"
#include "encodings/rope_scaling.h"

namespace lb {

class Rope : public Encoding {
 public:
  explicit Rope(EncodingSpec spec) : Encoding(std::move(spec)) {}
  PositionInputs positions(int64_t T, torch::Device device) override;
  void set_scaling(const Scaling& scaling) override;
  bool accepts_scalings() const override { return true; }
  nlohmann::json inspect(int64_t T) override;

 protected:
  RopeFrequencies frequencies(int64_t T) const;
  // Hook for subclasses that add per-position q/k scales to the rotary tables.
  virtual void add_scales(PositionInputs&, const torch::Tensor& pos) const {}

  Scaling scaling_;
  std::map<std::pair<int64_t, std::string>, PositionInputs> cache_;  // (T, device) -> tables
};

}  // namespace lb
