// The report's environment block: what ran the numbers (libtorch, threads, BLAS, CPU, host,
// commit, precision), and the process's peak memory.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lb {

// libtorch version, threads, device, BLAS, CPU, host, git commit; `precision` and the thread
// layout (cores given to the run, and how they were split) are recorded as given.
nlohmann::json environment_info(const std::string& device, const nlohmann::json& precision, int threads,
                                const nlohmann::json& thread_layout);
// Peak resident memory of this process so far, in MiB.
double peak_rss_mb();

}  // namespace lb
