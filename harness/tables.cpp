#include "harness/tables.h"

#include <fmt/format.h>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

namespace lb {

using nlohmann::json;

void validate_table_options(const TableOptions& o) {
  if (o.format != "markdown" && o.format != "csv" && o.format != "latex")
    throw std::invalid_argument(fmt::format("--format \"{}\": allowed: markdown, csv, latex", o.format));
  if (o.protocol != "nonoverlapping" && o.protocol != "sliding")
    throw std::invalid_argument(fmt::format("--protocol \"{}\": allowed: nonoverlapping, sliding", o.protocol));
  if (o.metric != "ppl" && o.metric != "nll" && o.metric != "last_l_ppl")
    throw std::invalid_argument(fmt::format("--metric \"{}\": allowed: ppl, nll, last_l_ppl", o.metric));
}

namespace {

struct Cell {
  double value = 0, error = 0;  // error < 0: none
  bool present = false;
};

Cell cell_of(const json& result, const std::string& metric) {
  const double nll = result.at("nll"), se = result.at("nll_stderr");
  if (metric == "nll") return {nll, se, true};
  if (metric == "ppl") return {std::exp(nll), std::exp(nll) * se, true};  // delta method
  return {result.at("last_l_ppl").get<double>(), -1, true};
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '&' || c == '%' || c == '#' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string render_table(const std::vector<json>& reports, const TableOptions& o) {
  validate_table_options(o);
  // Columns: every eval length present under the protocol; label with its multiple of L.
  std::map<int64_t, double> columns;  // T -> T / L
  struct Row {
    std::string name;
    std::map<int64_t, Cell> cells;
  };
  std::vector<Row> rows;
  for (const auto& report : reports)
    for (const auto& run : report.at("runs")) {
      Row row{run.at("name").get<std::string>(), {}};
      const double L = run.at("train_length").get<double>();
      for (const auto& r : run.at("results")) {
        if (r.at("protocol") != o.protocol) continue;
        const int64_t T = r.at("eval_length");
        columns[T] = double(T) / L;
        row.cells[T] = cell_of(r, o.metric);
      }
      rows.push_back(row);
    }
  if (columns.empty())
    throw std::invalid_argument(fmt::format("no results with protocol \"{}\" in the report(s)", o.protocol));

  std::map<int64_t, double> best;
  for (const auto& [T, m] : columns) {
    best[T] = std::numeric_limits<double>::infinity();
    for (const auto& row : rows)
      if (auto c = row.cells.find(T); c != row.cells.end()) best[T] = std::min(best[T], c->second.value);
  }
  const int precision = o.metric == "nll" ? 3 : 2;
  auto number = [&](double v) { return fmt::format("{:.{}f}", v, precision); };

  std::string out;
  if (o.format == "csv") {
    out += "run";
    for (const auto& [T, m] : columns) out += fmt::format(",{0},{0}_err", T);
    out += "\n";
    for (const auto& row : rows) {
      out += row.name;
      for (const auto& [T, m] : columns) {
        auto c = row.cells.find(T);
        if (c == row.cells.end()) out += ",,";
        else out += fmt::format(",{:.6g},{}", c->second.value, c->second.error >= 0 ? fmt::format("{:.6g}", c->second.error) : "");
      }
      out += "\n";
    }
    return out;
  }
  const bool latex = o.format == "latex";
  auto label = [](double m) { return fmt::format("{:g}L", m); };
  auto format_cell = [&](int64_t T, const Row& row) -> std::string {
    auto c = row.cells.find(T);
    if (c == row.cells.end()) return "–";
    std::string s = number(c->second.value);
    if (c->second.error >= 0) s += (latex ? " $\\pm$ " : " ± ") + number(c->second.error);
    if (c->second.value == best[T]) s = latex ? "\\textbf{" + s + "}" : "**" + s + "**";
    return s;
  };
  if (latex) {
    out += "\\begin{tabular}{l" + std::string(columns.size(), 'r') + "}\n\\hline\nrun";
    for (const auto& [T, m] : columns) out += fmt::format(" & {} ({})", label(m), T);
    out += " \\\\\n\\hline\n";
    for (const auto& row : rows) {
      out += latex_escape(row.name);
      for (const auto& [T, m] : columns) out += " & " + format_cell(T, row);
      out += " \\\\\n";
    }
    out += "\\hline\n\\end{tabular}\n";
    return out;
  }
  out += "| run |";
  for (const auto& [T, m] : columns) out += fmt::format(" {} ({}) |", label(m), T);
  out += "\n|---|";
  for (size_t i = 0; i < columns.size(); ++i) out += "---:|";
  out += "\n";
  for (const auto& row : rows) {
    out += "| " + row.name + " |";
    for (const auto& [T, m] : columns) out += " " + format_cell(T, row) + " |";
    out += "\n";
  }
  return out;
}

}  // namespace lb
