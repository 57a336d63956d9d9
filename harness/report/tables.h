// Comparison tables from reports: rows = runs (or run · task in task reports), columns = eval lengths.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

struct TableOptions {
  std::string format = "markdown";  // markdown | csv | latex
  std::string protocol = "nonoverlapping";
  std::string metric = "ppl";       // ppl | nll | last_l_ppl; accuracy | token_accuracy (protocol "task")
  // A run name: cells become nll(run) - nll(baseline) with the standard error of that paired
  // difference over the same documents and seeds (much smaller than either run's own error).
  std::string baseline;
};

// The values --format and --metric take (usage text and errors read these).
const std::vector<std::string>& table_formats();
const std::vector<std::string>& table_metrics();
void validate_table_options(const TableOptions& options);
bool is_accuracy_metric(const std::string& metric);
// The table a report is shown with by default: perplexity, or exact match for task reports.
TableOptions default_table_options(const nlohmann::json& report);
std::string render_table(const std::vector<nlohmann::json>& reports, const TableOptions& options);

}  // namespace lb
