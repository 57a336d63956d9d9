// What the machine computes with, read at run time (never from the build): the CPU model, the
// x86 features that decide bf16 (from CPUID, checked against what the OS enabled), and a CUDA
// device's compute capability.
#pragma once
#include <string>
#include <vector>

namespace lb {

struct Hardware {
  std::string cpu_model;
  std::vector<std::string> cpu_flags;  // those present of: avx2, avx512f, avx512_bf16, amx_bf16
  int cuda_capability_major = 0;       // 0: unknown or no CUDA device
};
Hardware detect_hardware(const std::string& device);

std::string cpu_model_name();  // /proc/cpuinfo's "model name", or "unknown"

}  // namespace lb
