// Comparison tables from reports: rows = runs, columns = eval lengths.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

struct TableOptions {
  std::string format = "markdown";  // markdown | csv | latex
  std::string protocol = "nonoverlapping";
  std::string metric = "ppl";       // ppl | nll | last_l_ppl
  // A run name: cells become nll(run) - nll(baseline) with the standard error of that paired
  // difference over the same windows (much smaller than either run's own error).
  std::string baseline;
};

// Mean difference a - b per token and its clustered standard error, from per-window nll sums
// over the same windows: sqrt(W/(W-1) * sum_w (d_w - n_w * mean)^2) / N with d_w = a_w - b_w.
std::pair<double, double> paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                                            const std::vector<int64_t>& tokens);

void validate_table_options(const TableOptions& options);
std::string render_table(const std::vector<nlohmann::json>& reports, const TableOptions& options);

}  // namespace lb
