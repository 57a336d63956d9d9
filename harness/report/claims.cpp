#include "harness/report/claims.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "harness/core/schema.h"
#include "harness/core/statistics.h"

namespace lb {

using nlohmann::json;

namespace {

const json& find_run(const json& report, const json& side) {
  const std::string run_name = side[key::run];
  for (const auto& run : report.at(key::runs))
    if (run.at(key::name) == run_name) {
      if (run.value(key::status, "complete") == "failed")
        throw std::invalid_argument(fmt::format("claim refers to {}, which failed: {}", run_name, run.value(key::error, "")));
      return run;
    }
  throw std::invalid_argument(fmt::format("claim refers to run {}, which the report does not hold", run_name));
}

const json& find_result(const json& run, const json& side, const std::string& protocol, const std::string& task) {
  const int64_t T = std::llround(side[key::length].get<double>() * run.at(key::train_length).get<double>());
  for (const auto& r : run.at(key::results))
    if (r.at(key::protocol) == protocol && r.at(key::eval_length) == T && r.value(key::task, "") == task) return r;
  throw std::invalid_argument(fmt::format("claim refers to {} at {}L ({}{}), which the report does not hold",
                                          run.at(key::name).get<std::string>(), side[key::length].dump(), protocol,
                                          task.empty() ? "" : ", task " + task));
}

}  // namespace

json evaluate_claims(const json& report) {
  json verdicts = json::array();
  for (const auto& claim : report.at(key::config).value(key::claims, json::array())) {
    const std::string task = claim.value(key::task, "");
    const std::string protocol = claim.value(key::protocol, task.empty() ? "nonoverlapping" : "task"), op = claim[key::op];
    const std::string metric = claim.value(key::metric, "nll");
    const json& left_run = find_run(report, claim[key::left]);
    const json& right_run = find_run(report, claim[key::right]);
    const bool same_model = same_trained_model(left_run, right_run);
    const Comparison cmp = compare_results(find_result(left_run, claim[key::left], protocol, task),
                                           find_result(right_run, claim[key::right], protocol, task), same_model, metric);
    const double d = cmp.difference, reach = cmp.critical * cmp.error;  // half-width of the interval
    std::string verdict = "inconclusive";
    if (cmp.problem.empty()) {
      const double margin = claim.value(key::margin, 0.01);
      if (op == "<" || op == ">") {
        const double signed_d = op == "<" ? d : -d;  // negative when the claim's direction holds
        if (signed_d + reach < -margin) verdict = "held";
        else if (signed_d - reach > -margin) verdict = "not held";
      } else if (op == "<=") {
        if (d + reach < margin) verdict = "held";
        else if (d - reach > margin) verdict = "not held";
      } else {
        const double tol = claim[key::tolerance];
        if (std::abs(d) + reach <= tol) verdict = "held";
        else if (std::abs(d) - reach > tol) verdict = "not held";
      }
    }
    json v = claim;
    v[key::protocol] = protocol;
    v[key::metric] = metric;
    v[key::difference] = d;
    v[key::stderr_] = std::isfinite(cmp.error) ? json(cmp.error) : json(nullptr);
    v[key::critical_value] = std::isfinite(cmp.critical) ? json(cmp.critical) : json(nullptr);
    v[key::df] = std::isfinite(cmp.df) ? json(cmp.df) : json(nullptr);
    v[key::stderr_kind] = cmp.kind;
    v[key::same_model] = same_model;
    if (!cmp.problem.empty()) v[key::reason] = cmp.problem;
    v[key::verdict] = verdict;
    verdicts.push_back(v);
  }
  return verdicts;
}

std::string verdict_line(const json& v) {
  const std::string error = v[key::stderr_].is_number()
                                ? fmt::format("± {:.3f} {} (x{:.2f} for 95%), {}", v[key::stderr_].get<double>(),
                                              v.value(key::metric, "nll") == "nll" ? "nats" : v.value(key::metric, ""),
                                              v[key::critical_value].get<double>(), v[key::stderr_kind].get<std::string>())
                                : "no error";
  std::string line = fmt::format("{}: {} (d = {:+.3f} {})", v[key::verdict].get<std::string>(),
                                 v[key::claim].get<std::string>(), v[key::difference].get<double>(), error);
  if (v.contains(key::reason)) line += fmt::format(" -- {}", v[key::reason].get<std::string>());
  return line;
}

}  // namespace lb
