// Report files: the schema tag and reading a report back (checked).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "harness/core/atomic_file.h"

namespace lb {

inline constexpr const char* kReportSchema = "lengthbench.report.v1";

// Reads a report and checks its schema.
nlohmann::json read_report(const std::string& path);

}  // namespace lb
