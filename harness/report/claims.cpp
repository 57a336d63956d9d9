#include "harness/report/claims.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "harness/core/statistics.h"

namespace lb {

using nlohmann::json;

namespace {

const json& find_run(const json& report, const json& side) {
  const std::string run_name = side["run"];
  for (const auto& run : report.at("runs"))
    if (run.at("name") == run_name) {
      if (run.value("status", "complete") == "failed")
        throw std::invalid_argument(fmt::format("claim refers to {}, which failed: {}", run_name, run.value("error", "")));
      return run;
    }
  throw std::invalid_argument(fmt::format("claim refers to run {}, which the report does not hold", run_name));
}

const json& find_result(const json& run, const json& side, const std::string& protocol, const std::string& task) {
  const int64_t T = std::llround(side["length"].get<double>() * run.at("train_length").get<double>());
  for (const auto& r : run.at("results"))
    if (r.at("protocol") == protocol && r.at("eval_length") == T && r.value("task", "") == task) return r;
  throw std::invalid_argument(fmt::format("claim refers to {} at {}L ({}{}), which the report does not hold",
                                          run.at("name").get<std::string>(), side["length"].dump(), protocol,
                                          task.empty() ? "" : ", task " + task));
}

}  // namespace

json evaluate_claims(const json& report) {
  json verdicts = json::array();
  for (const auto& claim : report.at("config").value("claims", json::array())) {
    const std::string task = claim.value("task", "");
    const std::string protocol = claim.value("protocol", task.empty() ? "nonoverlapping" : "task"), op = claim["op"];
    const std::string metric = claim.value("metric", "nll");
    const json& left_run = find_run(report, claim["left"]);
    const json& right_run = find_run(report, claim["right"]);
    const bool same_model = same_trained_model(left_run, right_run);
    const Comparison cmp = compare_results(find_result(left_run, claim["left"], protocol, task),
                                           find_result(right_run, claim["right"], protocol, task), same_model, metric);
    const double d = cmp.difference, reach = cmp.critical * cmp.error;  // half-width of the interval
    std::string verdict = "inconclusive";
    if (cmp.problem.empty()) {
      const double margin = claim.value("margin", 0.01);
      if (op == "<" || op == ">") {
        const double signed_d = op == "<" ? d : -d;  // negative when the claim's direction holds
        if (signed_d + reach < -margin) verdict = "held";
        else if (signed_d - reach > -margin) verdict = "not held";
      } else if (op == "<=") {
        if (d + reach < margin) verdict = "held";
        else if (d - reach > margin) verdict = "not held";
      } else {
        const double tol = claim["tolerance"];
        if (std::abs(d) + reach <= tol) verdict = "held";
        else if (std::abs(d) - reach > tol) verdict = "not held";
      }
    }
    json v = claim;
    v["protocol"] = protocol;
    v["metric"] = metric;
    v["difference"] = d;
    v["stderr"] = std::isfinite(cmp.error) ? json(cmp.error) : json(nullptr);
    v["critical_value"] = std::isfinite(cmp.critical) ? json(cmp.critical) : json(nullptr);
    v["df"] = std::isfinite(cmp.df) ? json(cmp.df) : json(nullptr);
    v["stderr_kind"] = cmp.kind;
    v["same_model"] = same_model;
    if (!cmp.problem.empty()) v["reason"] = cmp.problem;
    v["verdict"] = verdict;
    verdicts.push_back(v);
  }
  return verdicts;
}

std::string verdict_line(const json& v) {
  const std::string error = v["stderr"].is_number()
                                ? fmt::format("± {:.3f} {} (x{:.2f} for 95%), {}", v["stderr"].get<double>(),
                                              v.value("metric", "nll") == "nll" ? "nats" : v.value("metric", ""),
                                              v["critical_value"].get<double>(), v["stderr_kind"].get<std::string>())
                                : "no error";
  std::string line = fmt::format("{}: {} (d = {:+.3f} {})", v["verdict"].get<std::string>(),
                                 v["claim"].get<std::string>(), v["difference"].get<double>(), error);
  if (v.contains("reason")) line += fmt::format(" -- {}", v["reason"].get<std::string>());
  return line;
}

}  // namespace lb
