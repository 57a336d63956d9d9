#include "harness/report/tables.h"

#include <fmt/format.h>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "harness/statistics.h"

namespace lb {

using nlohmann::json;

void validate_table_options(const TableOptions& o) {
  if (o.format != "markdown" && o.format != "csv" && o.format != "latex")
    throw std::invalid_argument(fmt::format("--format \"{}\": allowed: markdown, csv, latex", o.format));
  if (o.protocol != "nonoverlapping" && o.protocol != "sliding")
    throw std::invalid_argument(fmt::format("--protocol \"{}\": allowed: nonoverlapping, sliding", o.protocol));
  if (o.metric != "ppl" && o.metric != "nll" && o.metric != "last_l_ppl")
    throw std::invalid_argument(fmt::format("--metric \"{}\": allowed: ppl, nll, last_l_ppl", o.metric));
  if (!o.baseline.empty() && o.metric == "last_l_ppl")
    throw std::invalid_argument("--baseline compares nll per token; it does not combine with --metric last_l_ppl");
}

namespace {

struct Cell {
  double value = 0, error = 0;  // error < 0: none
  bool present = false;
};

Cell cell_of(const json& result, const std::string& metric) {
  const double nll = result.at("nll");
  const double se = result.at("nll_stderr").is_number() ? result["nll_stderr"].get<double>() : std::nan("");  // n/a
  if (metric == "nll") return {nll, se, true};
  if (metric == "ppl") return {std::exp(nll), std::exp(nll) * se, true};  // delta method
  return {result.at("last_l_ppl").get<double>(), -1, true};
}

// nll(result) - nll(base) with the error of the paired difference (harness/statistics.h).
Cell paired_cell(const json& result, const json& base, const json& run, const json& base_run) {
  const Comparison c = compare_results(result, base, same_trained_model(run, base_run));
  if (c.problem.find("re-run") != std::string::npos || c.problem.find("same documents") != std::string::npos)
    throw std::invalid_argument(fmt::format("--baseline: runs \"{}\" and \"{}\" at T={}: {}", run.at("name").get<std::string>(),
                                            base_run.at("name").get<std::string>(), result["eval_length"].dump(), c.problem));
  return {c.difference, c.problem.empty() ? c.error : std::nan(""), true};
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
    bool failed = false;  // the run stopped (e.g. its loss diverged): every cell says so
  };
  std::vector<Row> rows;
  // With a baseline, its result at each eval length (under the protocol).
  std::map<int64_t, json> base;
  json base_run;
  json base_data;  // the baseline report's data summary: rows must come from the same data
  if (!o.baseline.empty()) {
    int found = 0;
    for (const auto& report : reports)
      for (const auto& run : report.at("runs"))
        if (run.at("name") == o.baseline) {
          ++found;
          base_data = report.value("data", json());
          base_run = run;
          for (const auto& r : run.at("results"))
            if (r.at("protocol") == o.protocol) base[r.at("eval_length").get<int64_t>()] = r;
        }
    if (found != 1)
      throw std::invalid_argument(fmt::format("--baseline \"{}\" names {} runs in the report(s); it must name one",
                                              o.baseline, found));
  }
  for (const auto& report : reports) {
    if (!o.baseline.empty() && report.value("data", json()) != base_data)
      throw std::invalid_argument(fmt::format("--baseline \"{}\": report \"{}\" was evaluated on other data; paired "
                                              "differences need the same held-out tokens",
                                              o.baseline, report.value("name", std::string("?"))));
    for (const auto& run : report.at("runs")) {
      Row row{run.at("name").get<std::string>(), {}, run.value("status", "complete") == "failed"};
      const double L = run.value("train_length", 1.0);
      for (const auto& r : run.value("results", json::array())) {
        if (r.at("protocol") != o.protocol) continue;
        const int64_t T = r.at("eval_length");
        columns[T] = double(T) / L;
        if (o.baseline.empty()) row.cells[T] = cell_of(r, o.metric);
        else if (auto b = base.find(T); b != base.end()) row.cells[T] = paired_cell(r, b->second, run, base_run);
      }
      rows.push_back(row);
    }
  }
  if (columns.empty())
    throw std::invalid_argument(fmt::format("no results with protocol \"{}\" in the report(s)", o.protocol));

  std::map<int64_t, double> best;
  for (const auto& [T, m] : columns) {
    best[T] = std::numeric_limits<double>::infinity();
    for (const auto& row : rows)
      if (auto c = row.cells.find(T); c != row.cells.end()) best[T] = std::min(best[T], c->second.value);
  }
  const int precision = o.metric == "nll" || !o.baseline.empty() ? 3 : 2;
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
        if (row.failed) out += ",failed,";
        else if (c == row.cells.end()) out += ",,";
        else out += fmt::format(",{:.6g},{}", c->second.value, c->second.error >= 0 ? fmt::format("{:.6g}", c->second.error)
                                                               : std::isnan(c->second.error) ? "n/a" : "");
      }
      out += "\n";
    }
    return out;
  }
  const bool latex = o.format == "latex";
  auto label = [](double m) { return fmt::format("{:g}L", m); };
  auto format_cell = [&](int64_t T, const Row& row) -> std::string {
    auto c = row.cells.find(T);
    if (row.failed) return "failed";
    if (c == row.cells.end()) return "–";
    std::string s = number(c->second.value);
    if (c->second.error >= 0) s += (latex ? " $\\pm$ " : " ± ") + number(c->second.error);
    else if (std::isnan(c->second.error)) s += latex ? " $\\pm$ n/a" : " ± n/a";
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
  if (!o.baseline.empty())
    out += fmt::format("Δ nll per token vs {} ± standard error of the paired difference (by document, and by seed "
                       "where there are several; {} windows)\n\n", o.baseline, o.protocol);
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
