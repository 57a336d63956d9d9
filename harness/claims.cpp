#include "harness/claims.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "harness/tables.h"

namespace lb {

using nlohmann::json;

namespace {

const char* kOps[] = {"<", ">", "~"};

// "config key \"claims[i].suffix\""
std::string key_name(size_t i, const std::string& suffix = "") {
  return fmt::format("config key \"claims[{}]{}\"", i, suffix);
}

}  // namespace

void validate_claims(const json& claims, const std::vector<std::string>& run_names, const std::vector<double>& lengths) {
  if (!claims.is_array()) throw std::invalid_argument("config key \"claims\" must be an array");
  for (size_t i = 0; i < claims.size(); ++i) {
    const auto& c = claims[i];
    if (!c.is_object() || !c.contains("claim") || !c["claim"].is_string())
      throw std::invalid_argument(key_name(i) + " needs \"claim\": the claim in words");
    for (const auto& key : c.items())
      if (key.key() != "claim" && key.key() != "left" && key.key() != "right" && key.key() != "op" &&
          key.key() != "tolerance" && key.key() != "margin" && key.key() != "protocol")
        throw std::invalid_argument(fmt::format(
            "{}: unknown key \"{}\"; allowed: claim, left, op, right, margin (< >), tolerance (~), protocol",
            key_name(i), key.key()));
    const std::string op = c.value("op", "");
    if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps))
      throw std::invalid_argument(fmt::format("{} must be one of <, >, ~ (got \"{}\")", key_name(i, ".op"), op));
    if (op == "~" && !(c.contains("tolerance") && c["tolerance"].is_number() && c["tolerance"].get<double>() > 0))
      throw std::invalid_argument(key_name(i, ".tolerance") + " (nats, > 0) is required with op \"~\"");
    if (c.contains("margin") && (op == "~" || !c["margin"].is_number() || c["margin"].get<double>() < 0))
      throw std::invalid_argument(key_name(i, ".margin") + " (nats, >= 0) goes with op \"<\" or \">\"");
    const std::string protocol = c.value("protocol", "nonoverlapping");
    if (protocol != "nonoverlapping" && protocol != "sliding")
      throw std::invalid_argument(key_name(i, ".protocol") + " must be nonoverlapping or sliding");
    for (const char* side : {"left", "right"}) {
      const std::string prefix = std::string(".") + side;
      if (!c.contains(side) || !c[side].is_object() || !c[side].contains("run") || !c[side]["run"].is_string() ||
          !c[side].contains("length") || !c[side]["length"].is_number())
        throw std::invalid_argument(key_name(i, prefix) + " must be {\"run\": NAME, \"length\": multiple of L}");
      const std::string run = c[side]["run"];
      if (std::find(run_names.begin(), run_names.end(), run) == run_names.end())
        throw std::invalid_argument(fmt::format("{} is \"{}\", not a run of this config; runs: {}",
                                                key_name(i, prefix + ".run"), run, fmt::join(run_names, ", ")));
      const double length = c[side]["length"];
      if (std::find(lengths.begin(), lengths.end(), length) == lengths.end())
        throw std::invalid_argument(fmt::format("{} is {}, not in eval.lengths ({})", key_name(i, prefix + ".length"),
                                                length, fmt::join(lengths, ", ")));
    }
  }
}

namespace {

const json& find_result(const json& report, const json& side, const std::string& protocol) {
  const std::string run_name = side["run"];
  for (const auto& run : report.at("runs")) {
    if (run.at("name") != run_name) continue;
    const int64_t T = std::llround(side["length"].get<double>() * run.at("train_length").get<double>());
    for (const auto& r : run.at("results"))
      if (r.at("protocol") == protocol && r.at("eval_length") == T) return r;
  }
  throw std::invalid_argument(fmt::format("claim refers to {} at {}L ({}), which the report does not hold", run_name,
                                          side["length"].dump(), protocol));
}

}  // namespace

json evaluate_claims(const json& report) {
  json verdicts = json::array();
  for (const auto& claim : report.at("config").value("claims", json::array())) {
    const std::string protocol = claim.value("protocol", "nonoverlapping"), op = claim["op"];
    const auto& a = find_result(report, claim["left"], protocol);
    const auto& b = find_result(report, claim["right"], protocol);
    double d = a.at("nll").get<double>() - b.at("nll").get<double>();
    double se = std::hypot(a.at("nll_stderr").get<double>(), b.at("nll_stderr").get<double>());
    std::string error_kind = "independent";
    if (a.contains("per_window") && b.contains("per_window") && a["eval_length"] == b["eval_length"] &&
        a["per_window"]["tokens"] == b["per_window"]["tokens"]) {
      std::tie(d, se) = paired_difference(a["per_window"]["nll_sum"].get<std::vector<double>>(),
                                          b["per_window"]["nll_sum"].get<std::vector<double>>(),
                                          a["per_window"]["tokens"].get<std::vector<int64_t>>());
      error_kind = "paired";
    }
    std::string verdict = "inconclusive";
    if (op == "<" || op == ">") {
      const double signed_d = op == "<" ? d : -d;  // negative when the claim's direction holds
      const double margin = claim.value("margin", 0.01);
      if (signed_d + 2 * se < -margin) verdict = "held";
      else if (signed_d - 2 * se > -margin) verdict = "not held";
    } else {
      const double tol = claim["tolerance"];
      if (std::abs(d) + 2 * se <= tol) verdict = "held";
      else if (std::abs(d) - 2 * se > tol) verdict = "not held";
    }
    json v = claim;
    v["protocol"] = protocol;
    v["difference"] = d;
    v["stderr"] = se;
    v["stderr_kind"] = error_kind;
    v["verdict"] = verdict;
    verdicts.push_back(v);
  }
  return verdicts;
}

}  // namespace lb
