#include "harness/report/claims.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "harness/eval/windows.h"
#include "harness/report/tables.h"

namespace lb {

using nlohmann::json;

namespace {

constexpr int64_t kMinClusters = 10;

const json& find_result(const json& report, const json& side, const std::string& protocol) {
  const std::string run_name = side["run"];
  for (const auto& run : report.at("runs")) {
    if (run.at("name") != run_name) continue;
    const int64_t T = std::llround(side["length"].get<double>() * run.at("train_length").get<double>());
    if (run.value("status", "complete") == "failed")
      throw std::invalid_argument(fmt::format("claim refers to {}, which failed: {}", run_name, run.value("error", "")));
    for (const auto& r : run.at("results"))
      if (r.at("protocol") == protocol && r.at("eval_length") == T) return r;
  }
  throw std::invalid_argument(fmt::format("claim refers to {} at {}L ({}), which the report does not hold", run_name,
                                          side["length"].dump(), protocol));
}

// Scored-token ranges of a result's windows: each window scores a contiguous span, and the spans
// of one result partition the evaluated tokens [0, N). Reconstructed from the deterministic plan.
std::vector<int64_t> scored_starts(const json& result, int64_t tokens, int64_t stride) {
  auto plan = plan_windows(result.at("protocol"), tokens, result.at("eval_length"), stride);
  for (size_t w = 0; w < plan.starts.size(); ++w) plan.starts[w] += plan.score_from[w];
  return plan.starts;
}

// Paired difference of two results over the same tokens, even at different lengths: windows of
// both are merged into the finest clusters that are whole windows on both sides (a 4L window
// holds four L windows), and per-cluster sums are compared.
// Returns nothing when there are fewer than kMinClusters clusters: too few to estimate a spread
// that a ±2se interval can trust.
std::optional<std::pair<double, double>> paired_over_clusters(const json& a, const json& b, int64_t tokens,
                                                              int64_t stride) {
  const auto sa = scored_starts(a, tokens, stride), sb = scored_starts(b, tokens, stride);
  const auto wa = a["per_window"]["nll_sum"].get<std::vector<double>>();
  const auto wb = b["per_window"]["nll_sum"].get<std::vector<double>>();
  auto matches_plan = [&](const json& r, const std::vector<int64_t>& starts) {
    const auto counts = r["per_window"]["tokens"].get<std::vector<int64_t>>();
    if (counts.size() != starts.size()) return false;
    for (size_t w = 0; w < starts.size(); ++w)
      if (counts[w] != (w + 1 < starts.size() ? starts[w + 1] : tokens) - starts[w]) return false;
    return true;
  };
  if (!matches_plan(a, sa) || !matches_plan(b, sb))
    throw std::invalid_argument("per-window sums do not match the evaluation plan recorded in the report");
  std::vector<int64_t> common;  // span starts that begin a window on both sides
  std::set_intersection(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(common));
  if (int64_t(common.size()) < kMinClusters) return std::nullopt;
  std::vector<double> ca(common.size()), cb(common.size());
  std::vector<int64_t> counts(common.size());
  auto cluster_of = [&](int64_t start) {
    return size_t(std::upper_bound(common.begin(), common.end(), start) - common.begin()) - 1;
  };
  for (size_t w = 0; w < sa.size(); ++w) ca[cluster_of(sa[w])] += wa[w];
  for (size_t w = 0; w < sb.size(); ++w) cb[cluster_of(sb[w])] += wb[w];
  for (size_t k = 0; k < common.size(); ++k) counts[k] = (k + 1 < common.size() ? common[k + 1] : tokens) - common[k];
  return paired_difference(ca, cb, counts);
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
    const auto& evaluation = report.value("evaluation", json::object());
    if (a.contains("per_window") && b.contains("per_window") && evaluation.contains("tokens") &&
        a["tokens"] == evaluation["tokens"] && b["tokens"] == evaluation["tokens"]) {
      if (const auto paired = paired_over_clusters(a, b, evaluation["tokens"], evaluation.value("sliding_stride", int64_t(0)))) {
        std::tie(d, se) = *paired;
        error_kind = "paired";
      }
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

std::string verdict_line(const json& v) {
  return fmt::format("{}: {} (d = {:+.3f} ± {:.3f} nats, {})", v["verdict"].get<std::string>(),
                     v["claim"].get<std::string>(), v["difference"].get<double>(), v["stderr"].get<double>(),
                     v["stderr_kind"].get<std::string>());
}

}  // namespace lb
