// table, claims, plot: commands on finished reports (no model code).
#include <fmt/format.h>
#include <filesystem>
#include <iostream>

#include "harness/core/schema.h"
#include "harness/cli/handlers.h"
#include "harness/core/atomic_file.h"
#include "harness/report/claims.h"
#include "harness/report/claims_check.h"
#include "harness/report/files.h"
#include "harness/report/markdown.h"
#include "harness/report/plots.h"
#include "harness/report/tables.h"

namespace lb {

using nlohmann::json;

int cmd_table(const Args& args) {
  if (args.operands().empty()) throw UsageError("table needs at least one REPORT (report.json)");
  TableOptions t;
  t.format = args.get("format").value_or(t.format);
  t.metric = args.get("metric").value_or(t.metric);
  // Accuracy is measured on tasks only, so it picks the task results unless told otherwise.
  t.protocol = args.get("protocol").value_or(is_accuracy_metric(t.metric) ? "task" : t.protocol);
  t.baseline = args.get("baseline").value_or(t.baseline);
  std::vector<json> reports;
  for (const auto& path : args.operands()) reports.push_back(read_report(path));
  std::cout << render_table(reports, t);
  return 0;
}

int cmd_claims(const Args& args) {
  if (args.operands().size() != 1) throw UsageError("claims takes one REPORT (report.json)");
  const std::string path = args.operands()[0];
  json report = read_report(path);
  if (report.value(key::status, "") != "complete")
    throw InputError(fmt::format("{} is an incomplete report; finish the run first", path));
  if (auto config = args.get("config")) {
    // The claims must fit the report's runs and lengths, as they would at parse time.
    const json& cfg = report[key::config];
    const json user = read_json_file(*config);
    if (!user.is_object()) throw ConfigError(fmt::format("config file \"{}\" is not a JSON object", *config));
    const json claims = user.value(key::claims, json::array());
    std::vector<std::string> names;
    for (const auto& run : report[key::runs]) names.push_back(run[key::name]);
    try {
      const auto tasks = cfg[key::data].value(key::task, json::object()).value(key::names, std::vector<std::string>{});
      validate_claims(claims, names, cfg[key::eval][key::lengths].get<std::vector<double>>(),
                      tasks.empty() ? cfg[key::eval][key::protocols].get<std::vector<std::string>>()
                                    : std::vector<std::string>{"task"},
                      tasks);
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}: {}", *config, e.what()));
    }
    report[key::config][key::claims] = claims;
  }
  report[key::claims] = evaluate_claims(report);
  write_json_atomic(path, report);
  const auto md = (std::filesystem::path(path).parent_path() / "report.md").string();
  write_text_atomic(md, report_markdown(report));
  for (const auto& v : report[key::claims]) std::cout << verdict_line(v) << "\n";
  return 0;
}

int cmd_plot(const Args& args) {
  if (args.operands().size() != 1) throw UsageError("plot takes one REPORT (report.json)");
  const std::string report_path = args.operands()[0];
  const auto dir = args.get("out").value_or(std::filesystem::path(report_path).parent_path().string());
  auto written = write_plots(read_report(report_path), dir.empty() ? "." : dir);
  if (written.empty()) throw std::runtime_error("no plots written");
  for (const auto& png : written) std::cout << png << "\n";
  return 0;
}

}  // namespace lb
