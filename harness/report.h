// Report files: atomic JSON writes, the environment block, and reading reports back.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lb {

inline constexpr const char* kReportSchema = "lengthbench.report.v1";

// Writes to PATH.tmp then renames, so readers never see a half-written file.
void write_json_atomic(const std::string& path, const nlohmann::json& value);
void write_text_atomic(const std::string& path, const std::string& text);
nlohmann::json read_json_file(const std::string& path);  // throws naming the file
// Reads a report and checks its schema.
nlohmann::json read_report(const std::string& path);

// libtorch version, threads, device, BLAS, CPU, host, git commit, precision.
nlohmann::json environment_info(const std::string& device, const std::string& precision);
// Peak resident memory of this process so far, in MiB.
double peak_rss_mb();

}  // namespace lb
