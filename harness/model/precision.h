// Numeric precision: which one a run computes in (bf16 autocast only where the hardware has
// native bf16, else fp32) and the autocast scope that applies it.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/hardware.h"

namespace lb {

struct PrecisionChoice {
  std::string requested;  // auto | bf16 | fp32
  std::string effective;  // bf16 | fp32
  std::string reason;     // one line: why
  bool emulated = false;  // bf16 asked for explicitly on hardware that emulates it (slow)
  nlohmann::json to_json(const Hardware& hw) const;
};
// "auto": bf16 where the device computes it natively (x86 avx512_bf16 or amx_bf16; CUDA compute
// capability >= 8.0), fp32 elsewhere. An explicit "bf16" is honoured, flagged as emulated where it is.
PrecisionChoice choose_precision(const std::string& requested, const std::string& device, const Hardware& hw);

// Enables bf16 autocast for the scope (CPU or CUDA); a no-op when `enabled` is false.
class AutocastScope {
 public:
  AutocastScope(bool enabled, torch::Device device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  bool cuda_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace lb
