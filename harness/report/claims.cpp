#include "harness/report/claims.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "harness/core/schema.h"
#include "harness/core/power.h"
#include "harness/core/statistics.h"
#include "harness/core/student_t.h"

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

namespace {

// How far the observed difference lies on the claim's side of its threshold, and the test of it:
// "<" / ">": distance = (-signed d) - margin, the claim holds when the interval lies past -margin;
// "<=": distance = margin - d; "~": distance = tolerance - |d|. p_held = P(T > distance / se),
// p_not_held = P(T < distance / se), one-sided, at the comparison's df.
struct ClaimTest {
  double distance;  // > 0 where the observed difference satisfies the claim
  double threshold; // margin (<, >, <=) or tolerance (~)
  bool equivalence; // "~"
};

ClaimTest claim_test(const json& claim, double d) {
  const std::string op = claim[key::op];
  if (op == "~") {
    const double tol = claim[key::tolerance];
    return {tol - std::abs(d), tol, true};
  }
  const double margin = claim.value(key::margin, 0.01);
  if (op == "<=") return {margin - d, margin, false};
  return {(op == "<" ? -d : d) - margin, margin, false};
}

// Power for the effect the claim is about: the paper's ("effect", nats in the claim's direction)
// when given; for "<=" and "~" a true difference of 0 (or the paper's effect) with the margin or
// tolerance as the room. A "<" / ">" claim without a paper effect shows the power and seeds at the
// effect observed, for information only.
struct PowerCase {
  double distance = std::numeric_limits<double>::quiet_NaN();
  std::string from;
  bool decides = true;  // a stated effect: an inconclusive verdict without power is "underpowered"
};

PowerCase power_case(const json& claim, double d) {
  const std::string op = claim[key::op];
  const bool paper = claim.contains(key::effect);
  const double effect = paper ? claim[key::effect].get<double>() : 0.0;
  if (op == "~") return {claim[key::tolerance].get<double>() - std::abs(effect), paper ? "the paper's effect" : "a true difference of 0"};
  const double margin = claim.value(key::margin, 0.01);
  if (op == "<=") return {margin + effect, paper ? "the paper's effect" : "a true difference of 0"};
  if (paper) return {effect - margin, "the paper's effect"};
  const double observed = op == "<" ? -d : d;
  // Power at the effect observed is a function of the p-value (post hoc): shown, never a verdict.
  if (observed > 0) return {observed - margin, "the effect observed", false};
  return {};  // observed against the claim and no paper effect given: power is not the question
}

json number_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

}  // namespace

json evaluate_claims(const json& report) {
  json verdicts = json::array();
  std::vector<double> p_held, p_not_held;
  for (const auto& claim : report.at(key::config).value(key::claims, json::array())) {
    const std::string task = claim.value(key::task, "");
    const std::string protocol = claim.value(key::protocol, task.empty() ? "nonoverlapping" : "task");
    const std::string metric = claim.value(key::metric, "nll");
    const json& left_run = find_run(report, claim[key::left]);
    const json& right_run = find_run(report, claim[key::right]);
    const bool same_model = same_trained_model(left_run, right_run);
    const Comparison cmp = compare_results(find_result(left_run, claim[key::left], protocol, task),
                                           find_result(right_run, claim[key::right], protocol, task), same_model, metric);
    const ClaimTest test = claim_test(claim, cmp.difference);
    const bool known = cmp.problem.empty() && std::isfinite(cmp.error) && cmp.error > 0;
    double ph = std::numeric_limits<double>::quiet_NaN(), pn = ph;
    if (known) {
      ph = 1 - t_cdf(test.distance / cmp.error, cmp.df);
      pn = t_cdf(test.distance / cmp.error, cmp.df);
    } else if (cmp.problem.empty() && cmp.error == 0) {  // no spread at all: the sign decides
      ph = test.distance > 0 ? 0.0 : 1.0;
      pn = 1 - ph;
    }
    p_held.push_back(ph);
    p_not_held.push_back(pn);
    std::string verdict = "inconclusive";
    if (ph < kClaimAlpha) verdict = "held";
    else if (pn < kClaimAlpha) verdict = "not held";
    json v = claim;
    const PowerCase pc = power_case(claim, cmp.difference);
    const double detectable = detectable_distance(cmp.error, cmp.df, test.equivalence);
    const double power = power_at(pc.distance, cmp.error, cmp.df, test.equivalence);
    if (verdict == "inconclusive" && known && pc.decides && std::isfinite(power) && power < kTargetPower)
      verdict = "underpowered";
    v[key::protocol] = protocol;
    v[key::metric] = metric;
    v[key::difference] = cmp.difference;
    v[key::stderr_] = number_or_null(cmp.error);
    v[key::critical_value] = number_or_null(cmp.critical);
    v[key::df] = number_or_null(cmp.df);
    v[key::stderr_kind] = cmp.kind;
    v[key::same_model] = same_model;
    v[key::p_held] = number_or_null(ph);
    v[key::p_not_held] = number_or_null(pn);
    // The smallest effect detected with 80% power: past the margin for < and >; the smallest
    // margin or tolerance a true difference of 0 would be confirmed within for <= and ~.
    v[key::detectable] = number_or_null(test.equivalence || claim[key::op] == "<="
                                            ? detectable : test.threshold + detectable);
    if (std::isfinite(pc.distance)) {
      v[key::power] = number_or_null(power);
      v[key::power_for] = pc.from;
      const int64_t k = seeds_needed({cmp.cluster_se, cmp.cluster_df, cmp.seed_se, cmp.seeds}, pc.distance, test.equivalence);
      v[key::seeds_needed] = k > 0 ? json(k) : json(nullptr);
      if (k < 0) v[key::seeds_needed_note] = "not reachable by seeds: the cluster part alone is too large";
      else if (k == 0) v[key::seeds_needed_note] = cmp.seeds < 2 ? "seed variance unknown (one seed)" : "the effect is not past the threshold";
    }
    if (!cmp.problem.empty()) v[key::reason] = cmp.problem;
    v[key::verdict_uncorrected] = verdict;
    verdicts.push_back(v);
  }
  // The report's claims as one family (Holm, each direction at one-sided 2.5%).
  const auto held_adj = holm_adjust(p_held), not_adj = holm_adjust(p_not_held);
  for (size_t i = 0; i < verdicts.size(); ++i) {
    json& v = verdicts[i];
    const std::string uncorrected = v[key::verdict_uncorrected];
    std::string corrected = uncorrected == "underpowered" ? uncorrected : "inconclusive";
    if (held_adj[i] < kClaimAlpha) corrected = "held";
    else if (not_adj[i] < kClaimAlpha) corrected = "not held";
    v[key::p_held_holm] = number_or_null(held_adj[i]);
    v[key::p_not_held_holm] = number_or_null(not_adj[i]);
    v[key::verdict] = corrected;
    v[key::correction] = fmt::format("Holm over the report's {} claims", verdicts.size());
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
  if (v.contains(key::verdict_uncorrected) && v[key::verdict_uncorrected] != v[key::verdict])
    line += fmt::format(" [{} before Holm]", v[key::verdict_uncorrected].get<std::string>());
  if (v.contains(key::detectable) && v[key::detectable].is_number())
    line += fmt::format(" [detectable at 80% power: {:.3f}{}]", v[key::detectable].get<double>(),
                        v.contains(key::seeds_needed) && v[key::seeds_needed].is_number()
                            ? fmt::format(", {} seeds for {}", v[key::seeds_needed].get<int64_t>(), v[key::power_for].get<std::string>())
                            : std::string());
  if (v.contains(key::reason)) line += fmt::format(" -- {}", v[key::reason].get<std::string>());
  return line;
}

}  // namespace lb
