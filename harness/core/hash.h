// FNV-1a: a small, stable, dependency-free hash for identities (split membership, cache keys,
// checkpoint names). Not cryptographic; stable across platforms and releases.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace lb {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;

inline uint64_t fnv1a(std::string_view bytes, uint64_t h = kFnvOffset) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

// 16 lowercase hex digits, the form hashes take in manifests and file names.
inline std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace lb
