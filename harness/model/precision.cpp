#include "harness/model/precision.h"

#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <torch/version.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>

#include "harness/config/fields.h"
#include "harness/model/matmul.h"

namespace lb {

using nlohmann::json;

namespace {

bool has(const std::vector<std::string>& flags, const char* flag) {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

bool native_bf16_cpu(const Hardware& hw) { return has(hw.cpu_flags, "avx512_bf16") || has(hw.cpu_flags, "amx_bf16"); }

}  // namespace

torch::Device resolve_device(DeviceChoice choice) {
  const bool cuda = torch::cuda::is_available();
  if (choice == DeviceChoice::kCuda && !cuda)
    throw ConfigError("config key \"device\" is \"cuda\" but this libtorch has no CUDA device (use \"auto\" or \"cpu\")");
  if (choice == DeviceChoice::kCpu || !cuda) return torch::kCPU;
  return torch::kCUDA;
}

bool precision_needs_rates(Precision requested, const std::string& device, const Hardware& hw) {
  return requested == Precision::kAuto && device == "cpu" && native_bf16_cpu(hw);
}

PrecisionChoice choose_precision(Precision requested, const std::string& device, const Hardware& hw,
                                 const std::optional<PrecisionRates>& rates) {
  PrecisionChoice p;
  p.requested = requested;
  bool native = false;
  std::string why;
  if (device == "cuda") {
    native = hw.cuda_capability_major >= 8;
    why = hw.cuda_capability_major > 0 ? fmt::format("CUDA compute capability {}.x", hw.cuda_capability_major)
                                        : "CUDA compute capability unknown";
    why += native ? " computes bf16 natively" : " (bf16 native from 8.0)";
  } else {
    native = native_bf16_cpu(hw);
    why = native ? fmt::format("the CPU has {}", has(hw.cpu_flags, "amx_bf16") ? "amx_bf16" : "avx512_bf16")
                 : "the CPU has neither avx512_bf16 nor amx_bf16, so bf16 would be emulated";
  }
  if (requested == Precision::kAuto && precision_needs_rates(requested, device, hw) && rates) {
    p.rates = rates;
    p.effective = rates->bf16 > rates->fp32 ? Precision::kBf16 : Precision::kFp32;
    p.reason = fmt::format("precision auto -> {}: {}, and this model trained at {:.1f}k tokens/s in bf16 against "
                           "{:.1f}k in fp32 ({})", name_of(p.effective), why, rates->bf16 / 1e3, rates->fp32 / 1e3,
                           rates->source);
  } else if (requested == Precision::kAuto) {
    p.effective = native ? Precision::kBf16 : Precision::kFp32;
    p.reason = fmt::format("precision auto -> {}: {}{}", name_of(p.effective), why,
                           precision_needs_rates(requested, device, hw) ? " (not timed: the flags' guess)" : "");
  } else {
    p.effective = requested;
    p.emulated = requested == Precision::kBf16 && !native;
    const std::string cost = device == "cuda" ? "expect it to be slower than fp32"
                                              : "expect training about 10x slower than fp32 (measured 0.4k vs 4.7k "
                                                "tokens/s at the quick size on an AVX2 EPYC)";
    p.reason = p.emulated ? fmt::format("precision bf16 as configured, but {}: {}; use \"auto\" or \"fp32\"", why, cost)
                          : fmt::format("precision {} as configured ({})", name_of(requested), why);
  }
  return p;
}

ThreadLayout choose_thread_layout(int threads, bool bf16, const std::string& device) {
  if (device != "cpu") return {threads, threads, device};
  if (bf16) return {threads, threads, "onednn (bf16, libtorch)"};
  if (gemm_backend() == GemmBackend::kOneDnn) return {threads, 1, gemm_backend_name(GemmBackend::kOneDnn)};
  return {1, threads, "blas (fp32, libtorch)"};
}

namespace {

// OpenBLAS is looked up, not linked: which BLAS libtorch loads is the system's choice (Debian
// alternatives). Other BLAS libraries keep their own setting.
using SetThreads = void (*)(int);
using GetThreads = int (*)();
SetThreads blas_set() { return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")); }
GetThreads blas_get() { return reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads")); }

}  // namespace

ThreadLayoutScope::ThreadLayoutScope(const ThreadLayout& layout) : applied_(layout) {
  previous_.intra_op = at::get_num_threads();
  previous_.blas = blas_get() ? blas_get()() : 0;
  if (blas_set()) blas_set()(layout.blas);
  else applied_.blas = 0;
  torch::set_num_threads(layout.intra_op);
}

ThreadLayoutScope::~ThreadLayoutScope() {
  torch::set_num_threads(previous_.intra_op);
  if (blas_set() && previous_.blas > 0) blas_set()(previous_.blas);
}

json PrecisionChoice::to_json(const Hardware& hw) const {
  json j = {{"requested", name_of(requested)}, {"effective", name_of(effective)}, {"reason", reason}, {"bf16_emulated", emulated},
            {"cpu_flags", hw.cpu_flags}};
  if (hw.cuda_capability_major > 0) j["cuda_capability_major"] = hw.cuda_capability_major;
  if (rates)
    j["measured"] = {{"bf16_tokens_per_second", rates->bf16}, {"fp32_tokens_per_second", rates->fp32},
                     {"source", rates->source}};
  return j;
}

namespace {

// torch 2.4 replaced the per-device autocast functions (is_enabled, get_autocast_gpu_dtype, ...)
// by ones taking the device type; the old ones are deprecated there and warn on every call.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
void set_autocast(at::DeviceType type, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
}
#else
void set_autocast(at::DeviceType type, bool enabled, at::ScalarType dtype) {
  if (type == at::kCUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
#endif

}  // namespace

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(torch::Device device) { return at::autocast::is_autocast_enabled(device.type()); }
at::ScalarType autocast_dtype(torch::Device device) { return at::autocast::get_autocast_dtype(device.type()); }
#else
bool autocast_enabled(torch::Device device) {
  return device.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
at::ScalarType autocast_dtype(torch::Device device) {
  return device.is_cuda() ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
#endif

AutocastScope::AutocastScope(bool enabled, torch::Device device)
    : enabled_(enabled), type_(device.is_cuda() ? at::kCUDA : at::kCPU) {
  if (!enabled_) return;
  was_enabled_ = autocast_enabled(torch::Device(type_));
  previous_dtype_ = autocast_dtype(torch::Device(type_));
  set_autocast(type_, true, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(type_, was_enabled_, previous_dtype_);
}

}  // namespace lb
