// PNG plots of a report through gnuplot (Debian gnuplot-nox): perplexity vs eval length per run,
// and per-position loss at the longest eval length.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {
// Returns the PNG paths written; logs a warning and returns none if gnuplot is missing.
std::vector<std::string> write_plots(const nlohmann::json& report, const std::string& out_dir);
}  // namespace lb
