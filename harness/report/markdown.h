// report.md: a finished report as markdown (tables per protocol, claims, runs, passkey, plots,
// environment).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lb {

std::string report_markdown(const nlohmann::json& report);

}  // namespace lb
