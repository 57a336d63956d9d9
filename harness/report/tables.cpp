#include "harness/report/tables.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "harness/core/schema.h"
#include "harness/config/vocab.h"
#include "harness/core/statistics.h"

namespace lb {

using nlohmann::json;

void validate_table_options(const TableOptions& o) {
  auto listed = [](const std::vector<std::string>& list, const std::string& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  if (!listed(table_formats(), o.format))
    throw std::invalid_argument(fmt::format("--format \"{}\": allowed: {}", o.format, fmt::join(table_formats(), ", ")));
  if (!listed(vocabulary_names<Protocol>(), o.protocol))
    throw std::invalid_argument(fmt::format("--protocol \"{}\": allowed: {}", o.protocol,
                                            fmt::join(vocabulary_names<Protocol>(), ", ")));
  if (!listed(table_metrics(), o.metric))
    throw std::invalid_argument(fmt::format("--metric \"{}\": allowed: {}", o.metric, fmt::join(table_metrics(), ", ")));
  if (is_accuracy_metric(o.metric) != (o.protocol == "task"))
    throw std::invalid_argument(fmt::format("--metric {} goes with {}: accuracy is what task reports measure, "
                                            "perplexity what text reports do",
                                            o.metric, is_accuracy_metric(o.metric) ? "--protocol task" : "a text protocol"));
  if (!o.baseline.empty() && o.metric == "last_l_ppl")
    throw std::invalid_argument("--baseline compares nll per token; it does not combine with --metric last_l_ppl");
}

const std::vector<std::string>& table_formats() {
  static const std::vector<std::string> formats = {"markdown", "csv", "latex"};
  return formats;
}

const std::vector<std::string>& table_metrics() {
  static const std::vector<std::string> metrics = {key::ppl, "nll", "last_l_ppl", "accuracy", "token_accuracy"};
  return metrics;
}

bool is_accuracy_metric(const std::string& metric) { return metric == "accuracy" || metric == "token_accuracy"; }

TableOptions default_table_options(const json& report) {
  TableOptions t;
  if (report.value(key::evaluation, json::object()).value(key::sample, "") == "tasks") {
    t.protocol = "task";
    t.metric = "accuracy";
  }
  return t;
}

namespace {

struct Cell {
  double value = 0, error = 0;  // error < 0: none
  bool present = false;
  int64_t seeds = 1;  // training seeds behind the error; 1: conditional on the checkpoint
};

// Reports before the "seeds" key carry only the per-seed means ("seed_<metric>").
int64_t seeds_of(const json& result, const std::string& metric) {
  if (result.contains(key::seeds)) return int64_t(result[key::seeds].size());
  const std::string per_seed = "seed_" + std::string(is_accuracy_metric(metric) ? metric : "nll");
  return result.contains(per_seed) ? int64_t(result[per_seed].size()) : 1;
}

Cell cell_of(const json& result, const std::string& metric) {
  if (is_accuracy_metric(metric)) {
    const json& se = result.at(metric + "_stderr");
    return {result.at(metric).get<double>(), se.is_number() ? se.get<double>() : std::nan(""), true, seeds_of(result, metric)};
  }
  const double nll = result.at(key::nll);
  const double se = result.at(key::nll_stderr).is_number() ? result[key::nll_stderr].get<double>() : std::nan("");  // n/a
  if (metric == "nll") return {nll, se, true, seeds_of(result, metric)};
  if (metric == "ppl") return {std::exp(nll), std::exp(nll) * se, true, seeds_of(result, metric)};  // delta method
  return {result.at(key::last_l_ppl).get<double>(), -1, true, seeds_of(result, metric)};
}

// metric(result) - metric(base) with the error of the paired difference (harness/statistics.h):
// nll for the perplexity metrics.
Cell paired_cell(const json& result, const json& base, const json& run, const json& base_run, const std::string& metric) {
  const Comparison c = compare_results(result, base, same_trained_model(run, base_run),
                                       is_accuracy_metric(metric) ? metric : "nll");
  if (c.problem.find("re-run") != std::string::npos || c.problem.find("same documents") != std::string::npos)
    throw std::invalid_argument(fmt::format("--baseline: runs \"{}\" and \"{}\" at T={}: {}", run.at(key::name).get<std::string>(),
                                            base_run.at(key::name).get<std::string>(), result[key::eval_length].dump(), c.problem));
  return {c.difference, c.problem.empty() ? c.error : std::nan(""), true, c.seeds};
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
    std::string task;     // task reports: rows are grouped, and best marked, per task
  };
  std::vector<Row> rows;
  // A row per run, or per (run, task) in task reports; a column per eval length.
  auto row_key = [](const json& run, const json& result) {
    const std::string task = result.value(key::task, "");
    return run.at(key::name).get<std::string>() + (task.empty() ? "" : " · " + task);
  };
  // With a baseline, its result at each (task, eval length) under the protocol.
  std::map<std::pair<std::string, int64_t>, json> base;
  json base_run;
  json base_data;  // the baseline report's data summary: rows must come from the same data
  if (!o.baseline.empty()) {
    int found = 0;
    for (const auto& report : reports)
      for (const auto& run : report.at(key::runs))
        if (run.at(key::name) == o.baseline) {
          ++found;
          base_data = report.value(key::data, json());
          base_run = run;
          for (const auto& r : run.at(key::results))
            if (r.at(key::protocol) == o.protocol) base[{r.value(key::task, ""), r.at(key::eval_length).get<int64_t>()}] = r;
        }
    if (found != 1)
      throw std::invalid_argument(fmt::format("--baseline \"{}\" names {} runs in the report(s); it must name one",
                                              o.baseline, found));
  }
  for (const auto& report : reports) {
    if (!o.baseline.empty() && report.value(key::data, json()) != base_data)
      throw std::invalid_argument(fmt::format("--baseline \"{}\": report \"{}\" was evaluated on other data; paired "
                                              "differences need the same held-out tokens",
                                              o.baseline, report.value(key::name, std::string("?"))));
    for (const auto& run : report.at(key::runs)) {
      const bool failed = run.value(key::status, "complete") == "failed";
      const double L = run.value(key::train_length, 1.0);
      std::vector<Row> run_rows;
      auto row_for = [&](const std::string& name, const std::string& task) -> Row& {
        for (auto& r : run_rows)
          if (r.name == name) return r;
        run_rows.push_back(Row{name, {}, failed, task});
        return run_rows.back();
      };
      if (failed) row_for(run.at(key::name).get<std::string>(), "");
      for (const auto& r : run.value(key::results, json::array())) {
        if (r.at(key::protocol) != o.protocol) continue;
        const int64_t T = r.at(key::eval_length);
        columns[T] = double(T) / L;
        Row& row = row_for(row_key(run, r), r.value(key::task, ""));
        if (o.baseline.empty()) row.cells[T] = cell_of(r, o.metric);
        else if (auto b = base.find({r.value(key::task, ""), T}); b != base.end())
          row.cells[T] = paired_cell(r, b->second, run, base_run, o.metric);
      }
      if (run_rows.empty()) run_rows.push_back(Row{run.at(key::name).get<std::string>(), {}, failed});
      rows.insert(rows.end(), run_rows.begin(), run_rows.end());
    }
  }
  if (columns.empty())
    throw std::invalid_argument(fmt::format("no results with protocol \"{}\" in the report(s)", o.protocol));

  // Task reports: the rows of one task together, tasks in the order they first appear.
  std::vector<std::string> task_order;
  for (const auto& row : rows)
    if (std::find(task_order.begin(), task_order.end(), row.task) == task_order.end()) task_order.push_back(row.task);
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    return std::find(task_order.begin(), task_order.end(), a.task) < std::find(task_order.begin(), task_order.end(), b.task);
  });
  // Best per column (and task): lowest perplexity, highest accuracy (a difference from the
  // baseline likewise).
  const bool higher_better = is_accuracy_metric(o.metric);
  std::map<std::pair<std::string, int64_t>, double> best;
  for (const auto& row : rows)
    for (const auto& [T, cell] : row.cells) {
      const auto key = std::make_pair(row.task, T);
      if (!best.count(key)) best[key] = cell.value;
      best[key] = higher_better ? std::max(best[key], cell.value) : std::min(best[key], cell.value);
    }
  const int precision = o.metric == "nll" || higher_better || !o.baseline.empty() ? 3 : 2;
  auto number = [&](double v) { return fmt::format("{:.{}f}", v, precision); };

  std::string out;
  if (o.format == "csv") {
    out += "run";
    for (const auto& [T, m] : columns) out += fmt::format(",{0},{0}_err,{0}_seeds", T);
    out += "\n";
    for (const auto& row : rows) {
      out += row.name;
      for (const auto& [T, m] : columns) {
        auto c = row.cells.find(T);
        if (row.failed) out += ",failed,,";
        else if (c == row.cells.end()) out += ",,,";
        else out += fmt::format(",{:.6g},{},{}", c->second.value, c->second.error >= 0 ? fmt::format("{:.6g}", c->second.error)
                                                               : std::isnan(c->second.error) ? "n/a" : "", c->second.seeds);
      }
      out += "\n";
    }
    return out;
  }
  const bool latex = o.format == "latex";
  auto label = [](double m) { return fmt::format("{:g}L", m); };
  bool any_conditional = false;
  const std::string conditional_note =
      "‡ one training seed: the ± is the document-sampling error only, conditional on the trained checkpoint "
      "(the between-seed part is unknown; the three-seed reports in results/papers give its size).";
  auto format_cell = [&](int64_t T, const Row& row) -> std::string {
    auto c = row.cells.find(T);
    if (row.failed) return "failed";
    if (c == row.cells.end()) return "–";
    std::string s = number(c->second.value);
    if (c->second.error >= 0) {
      s += (latex ? " $\\pm$ " : " ± ") + number(c->second.error);
      if (c->second.seeds < 2) s += latex ? "$^\\ddagger$" : "‡", any_conditional = true;
    }
    else if (std::isnan(c->second.error)) s += latex ? " $\\pm$ n/a" : " ± n/a";
    if (c->second.value == best[{row.task, T}] && !(higher_better && c->second.value == 0)) s = latex ? "\\textbf{" + s + "}" : "**" + s + "**";
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
    if (any_conditional) out += "% " + conditional_note + "\n";
    return out;
  }
  if (!o.baseline.empty())
    out += higher_better
               ? fmt::format("Δ {} vs {} ± standard error of the paired difference (by instance, and by seed where "
                             "there are several)\n\n", o.metric, o.baseline)
               : fmt::format("Δ nll per token vs {} ± standard error of the paired difference (by document, and by "
                             "seed where there are several; {} windows)\n\n", o.baseline, o.protocol);
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
  if (any_conditional) out += "\n" + conditional_note + "\n";
  return out;
}

}  // namespace lb
