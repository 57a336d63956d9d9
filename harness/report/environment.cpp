#include "harness/report/environment.h"

#include <ATen/Parallel.h>
#include <torch/version.h>
#include <fmt/format.h>
#include <thread>
#include <sys/resource.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "harness/core/schema.h"
#include "harness/core/hardware.h"


namespace lb {

namespace {

std::string command_output(const char* command) {
  std::array<char, 256> buffer{};
  std::string out;
  if (FILE* pipe = popen(command, "r")) {
    while (fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The BLAS libtorch was built against, and the shared library the loader actually resolves to
// (Debian switches it through alternatives; the reference BLAS is ~20x slower).
std::string blas_info() {
  std::smatch m;
  const std::string config = at::show_config();
  std::string built = std::regex_search(config, m, std::regex("BLAS_INFO=([^,\\s]+)")) ? m[1].str() : "unknown";
  std::error_code ec;
  auto resolved = std::filesystem::canonical("/usr/lib/x86_64-linux-gnu/libblas.so.3", ec);
  return ec ? built : built + " -> " + resolved.string();
}

}  // namespace

double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

nlohmann::json environment_info(const std::string& device, const nlohmann::json& precision, int threads,
                                const nlohmann::json& thread_layout) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string commit = command_output("git rev-parse --short HEAD 2>/dev/null");
  if (!commit.empty() && !command_output("git status --porcelain --untracked-files=no 2>/dev/null").empty())
    commit += "-dirty";
  return {{key::libtorch, fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH)},
          {key::threads, threads},
          {"thread_layout", thread_layout},
          {"interop_threads", at::get_num_interop_threads()},
          {key::device, device},
          {key::precision, precision},
          {key::blas, blas_info()},
          {key::cpu, cpu_model_name()},
          {"cores", std::thread::hardware_concurrency()},
          {key::host, std::string(host)},
          {key::git_commit, commit.empty() ? "unknown" : commit}};
}

}  // namespace lb
