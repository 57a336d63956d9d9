#include "harness/core/hardware.h"

#include <dlfcn.h>
#include <fstream>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace lb {

namespace {

std::vector<std::string> x86_bf16_flags() {
  std::vector<std::string> flags;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return flags;
  const bool osxsave = c & (1u << 27);
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (uint64_t(hi) << 32) | lo;
  }
  const bool os_avx = (xcr0 & 0x6) == 0x6;            // XMM and YMM state
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;       // plus opmask and ZMM state
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;    // tile config and tile data
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return flags;
  const unsigned leaf7_edx = d;
  if (os_avx && (b & (1u << 5))) flags.push_back("avx2");
  if (os_avx512 && (b & (1u << 16))) flags.push_back("avx512f");
  if (os_amx && (leaf7_edx & (1u << 22))) flags.push_back("amx_bf16");
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && os_avx512 && (a & (1u << 5))) flags.push_back("avx512_bf16");
#endif
  return flags;
}

// The CUDA runtime is in the process only when libtorch was built with CUDA; look it up rather
// than link it, so CPU builds need nothing.
int cuda_capability_major() {
  using GetAttribute = int (*)(int*, int, int);
  auto get = reinterpret_cast<GetAttribute>(dlsym(RTLD_DEFAULT, "cudaDeviceGetAttribute"));
  int major = 0;
  constexpr int kComputeCapabilityMajor = 75;  // cudaDevAttrComputeCapabilityMajor
  if (get && get(&major, kComputeCapabilityMajor, 0) == 0) return major;
  return 0;
}

}  // namespace

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

Hardware detect_hardware(const std::string& device) {
  Hardware hw;
  hw.cpu_model = cpu_model_name();
  hw.cpu_flags = x86_bf16_flags();
  if (device == "cuda") hw.cuda_capability_major = cuda_capability_major();
  return hw;
}

}  // namespace lb
