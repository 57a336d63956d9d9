// Numeric precision: which one a run computes in (bf16 autocast only where the hardware has
// native bf16, else fp32) and the autocast scope that applies it.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness/config/vocab.h"
#include "harness/core/hardware.h"

namespace lb {

// What a model computes with: where, and whether under bf16 autocast. Decided once per run.
struct Compute {
  torch::Device device = torch::kCPU;
  bool bf16 = false;
};

// "auto": CUDA when the libtorch in use has a device, else the CPU. Throws ConfigError for "cuda"
// without a device.
torch::Device resolve_device(DeviceChoice choice);

// Training throughput of one model in each precision on this machine (tokens/s), measured by the
// run layer (harness/run/precision_probe.h) or injected by tests.
struct PrecisionRates {
  double bf16 = 0, fp32 = 0;
  std::string source;  // where the numbers come from: "measured now", or the record file reused
};

struct PrecisionChoice {
  Precision requested = Precision::kAuto;
  Precision effective = Precision::kFp32;  // kBf16 or kFp32
  bool bf16() const { return effective == Precision::kBf16; }
  std::string reason;     // one line: why
  bool emulated = false;  // bf16 asked for explicitly on hardware that emulates it (slow)
  std::optional<PrecisionRates> rates;  // what "auto" decided by, on a CPU with native bf16
  nlohmann::json to_json(const Hardware& hw) const;
};
// "auto" is the faster precision here. Where bf16 is not native (no avx512_bf16 or amx_bf16 on the
// CPU, CUDA before compute capability 8.0) it is emulated and never chosen: fp32, untimed. On a
// CUDA device that has it, bf16. On a CPU that has it, the flags do not say which is faster
// (measured: bf16 ahead with AMX and on Zen 5, behind on a Xeon with avx512_bf16 alone), so
// `rates` decide: bf16 only when it trained faster; without rates, bf16 (the flags' guess, said
// so in the reason). An explicit precision always wins, flagged when bf16 is emulated.
PrecisionChoice choose_precision(Precision requested, const std::string& device, const Hardware& hw,
                                 const std::optional<PrecisionRates>& rates = std::nullopt);
// Whether choose_precision wants measured rates for this request (auto on a CPU with native bf16).
bool precision_needs_rates(Precision requested, const std::string& device, const Hardware& hw);

// How `threads` cores are split between libtorch's OpenMP pool and the BLAS's own threads, which
// follows from where the GEMMs run. bf16 GEMMs, and fp32 ones through oneDNN's sgemm (matmul.h),
// run on the OpenMP pool, so every core goes there; OpenBLAS keeps one thread where nothing else
// calls it (bf16's evaluation head is an fp32 GEMM in OpenBLAS, so bf16 leaves it every core).
// fp32 GEMMs through libtorch's own matmul run in OpenBLAS (pthreads): with libtorch's OpenMP
// threads spinning beside them after every parallel region, 2 + 2 threads on 2 cores trained the
// quick model at 5.6k tokens/s; one OpenMP thread with OpenBLAS on every core trained it at 17.5k.
struct ThreadLayout {
  int intra_op = 1;  // libtorch (OpenMP) threads
  int blas = 1;      // OpenBLAS threads (0: the BLAS has no such control; left as it is)
  std::string gemm;  // where the model's matrix products run
  nlohmann::json to_json() const {
    return {{"intra_op_threads", intra_op}, {"blas_threads", blas}, {"gemm", gemm}};
  }
};
ThreadLayout choose_thread_layout(int threads, bool bf16, const std::string& device);

// Applies a layout for its lifetime and restores the previous one after.
class ThreadLayoutScope {
 public:
  explicit ThreadLayoutScope(const ThreadLayout& layout);
  ~ThreadLayoutScope();
  ThreadLayoutScope(const ThreadLayoutScope&) = delete;
  ThreadLayoutScope& operator=(const ThreadLayoutScope&) = delete;
  const ThreadLayout& applied() const { return applied_; }  // blas = 0 where the BLAS cannot be told

 private:
  ThreadLayout applied_, previous_;
};

// Whether autocast is on for the device's type in this thread, and the dtype it casts to.
bool autocast_enabled(torch::Device device);
at::ScalarType autocast_dtype(torch::Device device);

// Enables bf16 autocast for the scope (CPU or CUDA); a no-op when `enabled` is false.
class AutocastScope {
 public:
  AutocastScope(bool enabled, torch::Device device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  at::DeviceType type_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace lb
