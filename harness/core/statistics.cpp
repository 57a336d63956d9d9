#include "harness/core/statistics.h"

#include <fmt/format.h>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "harness/core/schema.h"
#include "harness/core/student_t.h"

namespace lb {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sample mean and the standard error of the mean (NaN below 2 values).
std::pair<double, double> mean_and_stderr(const std::vector<double>& x) {
  double mean = 0;
  for (double v : x) mean += v;
  mean /= double(x.size());
  if (x.size() < 2) return {mean, kNaN};
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return {mean, std::sqrt(ss / double(x.size() - 1) / double(x.size()))};
}

// Each metric is a ratio of per-cluster sums: its per-cluster numerators and denominators in
// "per_document", its per-seed means under "seed_<name>", its error under "<name>_stderr".
struct MetricKeys {
  const char* sum;
  const char* count;
};
MetricKeys metric_keys(const std::string& metric) {
  if (metric == "nll") return {key::nll_sum, "tokens"};
  if (metric == "accuracy") return {key::accuracy_sum, "sequences"};
  if (metric == "token_accuracy") return {key::token_accuracy_sum, "tokens"};
  throw std::invalid_argument(fmt::format("unknown metric \"{}\"; allowed: nll, accuracy, token_accuracy", metric));
}

std::vector<double> seed_values(const json& result, const std::string& metric) {
  const std::string key = "seed_" + metric;
  return result.contains(key) ? result[key].get<std::vector<double>>()
                              : std::vector<double>{result.at(metric).get<double>()};
}

std::string cluster_word(const json& result) {
  return result.at(key::per_document).value(key::unit, std::string("document")) + "s";
}

}  // namespace

double clustered_stderr(const std::vector<double>& sums, const std::vector<int64_t>& counts) {
  return cluster_error(sums, counts).se;
}

ClusterError cluster_error(const std::vector<double>& sums, const std::vector<int64_t>& counts) {
  const size_t G = counts.size();
  if (G < 2) return {kNaN, kNaN};
  double N = 0, total = 0;
  for (size_t g = 0; g < G; ++g) N += double(counts[g]), total += sums[g];
  const double mean = total / N;
  // CR2: cluster g's residual sum r_g, adjusted by (1 - c_g)^(-1/2), c_g = n_g / N its leverage.
  double v = 0, S = 0, diagonal = 0;
  for (size_t g = 0; g < G; ++g) {
    const double n = double(counts[g]), c = n / N, a2 = 1 / (1 - c);
    if (!(c < 1)) return {kNaN, kNaN};
    v += std::pow(sums[g] - n * mean, 2) * a2;
    // Bell-McCaffrey: M = D_a (diag(n) - n n^T / N) D_a, df = (tr M)^2 / sum_gh M_gh^2, tr M = N.
    S += a2 * n * n / N;
    diagonal += a2 * a2 * (std::pow(n - n * n / N, 2) - std::pow(n * n / N, 2));
  }
  return {std::sqrt(v) / N, N * N / (S * S + diagonal)};
}

PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                                            const std::vector<int64_t>& counts) {
  if (a.size() != counts.size() || b.size() != counts.size())
    throw std::invalid_argument("paired difference of results with different clusters");
  std::vector<double> d(a.size());
  double n = 0, total = 0;
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i], n += double(counts[i]), total += d[i];
  return {total / n, cluster_error(d, counts)};
}

double t_quantile_975(double df) { return df > 0 ? t_quantile(0.975, df) : kNaN; }

std::pair<double, double> combine_errors(const std::vector<ErrorPart>& parts) {
  double variance = 0, denominator = 0;
  bool any = false;
  for (const auto& p : parts) {
    if (!std::isfinite(p.se) || !(p.df > 0)) continue;
    any = true;
    const double v = p.se * p.se;
    variance += v;
    denominator += v * v / p.df;
  }
  if (!any) return {kNaN, kNaN};
  const double df = denominator > 0 ? variance * variance / denominator : std::numeric_limits<double>::infinity();
  return {std::sqrt(variance), df};
}

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {key::nll, "accuracy", "token_accuracy"};
  return names;
}

json aggregate_seed_results(const std::vector<json>& per_seed) {
  if (per_seed.empty()) return json::array();
  json out = json::array();
  const size_t K = per_seed.size();
  for (size_t i = 0; i < per_seed[0].size(); ++i) {
    json cell = per_seed[0][i];
    for (const auto& seed : per_seed) {
      const json& r = seed.at(i);
      if (r.at(key::eval_length) != cell.at(key::eval_length) || r.at(key::protocol) != cell.at(key::protocol) ||
          r.value(key::task, "") != cell.value(key::task, ""))
        throw std::invalid_argument("seeds of one run evaluated different lengths, protocols or tasks");
      if (r[key::per_document][key::ids] != cell[key::per_document][key::ids])
        throw std::invalid_argument("seeds of one run scored different documents");
    }
    for (const std::string& metric : metric_names()) {
      if (!cell.contains(metric)) continue;
      const MetricKeys keys = metric_keys(metric);
      std::vector<double> means;
      for (const auto& seed : per_seed) means.push_back(seed.at(i).at(metric).get<double>());
      const auto [mean, se_seed] = mean_and_stderr(means);
      // Seed-averaged per-cluster sums: the cluster-sampling error of the seed mean.
      auto sums = cell[key::per_document][keys.sum].get<std::vector<double>>();
      const auto counts = cell[key::per_document][keys.count].get<std::vector<int64_t>>();
      for (size_t k = 1; k < K; ++k) {
        const auto other = per_seed[k][i][key::per_document][keys.sum].get<std::vector<double>>();
        if (other.size() != sums.size() || per_seed[k][i][key::per_document][keys.count] != cell[key::per_document][keys.count])
          throw std::invalid_argument("seeds of one run scored different documents");
        for (size_t d = 0; d < sums.size(); ++d) sums[d] += other[d];
      }
      for (double& s : sums) s /= double(K);
      const ClusterError doc = cluster_error(sums, counts);
      const double se_doc = doc.se;
      const auto [se, df] = combine_errors({{doc.se, doc.df}, {se_seed, double(K) - 1}});
      cell[metric] = mean;
      cell[metric + "_stderr"] = std::isfinite(se) ? json(se) : json(nullptr);
      cell[metric == "nll" ? std::string("stderr_parts") : metric + "_stderr_parts"] = {
          {cluster_word(cell), std::isfinite(se_doc) ? json(se_doc) : json(nullptr)},
          {key::seeds, std::isfinite(se_seed) ? json(se_seed) : json(nullptr)},
          {key::cluster_count, counts.size()}, {key::cluster_df, std::isfinite(doc.df) ? json(doc.df) : json(nullptr)},
          {key::seed_count, K},
          {key::df, std::isfinite(df) ? json(df) : json(nullptr)}};
      cell["seed_" + metric] = means;
      std::vector<double> rounded;  // 1e-6 is far below any difference worth reporting
      for (double s : sums) rounded.push_back(std::round(s * 1e6) / 1e6);
      cell[key::per_document][keys.sum] = rounded;
    }
    cell[key::ppl] = std::exp(cell[key::nll].get<double>());
    // Position views (text results): plain means over seeds (each seed scored the same tokens).
    if (cell.contains(key::last_l_nll)) {
      double m = 0;
      for (const auto& seed : per_seed) m += seed[i].at(key::last_l_nll).get<double>() / double(K);
      cell[key::last_l_nll] = m;
      cell[key::last_l_ppl] = std::exp(m);
    }
    for (size_t b = 0; b < cell.value(key::buckets, json::array()).size(); ++b) {
      double m = 0;
      for (const auto& seed : per_seed) m += seed[i][key::buckets][b][key::nll].get<double>() / double(K);
      cell[key::buckets][b][key::nll] = m;
    }
    for (size_t b = 0; b < cell.value(key::curve, json::array()).size(); ++b) {
      double m = 0;
      for (const auto& seed : per_seed) m += seed[i][key::curve][b][1].get<double>() / double(K);
      cell[key::curve][b][1] = m;
    }
    out.push_back(cell);
  }
  return out;
}

json aggregate_seed_passkey(const std::vector<json>& per_seed) {
  if (per_seed.empty()) return json::array();
  json out = per_seed[0];
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t trials = 0, retrieved = 0;
    double digit_nll = 0;
    for (const auto& seed : per_seed) {
      trials += seed.at(i).at(key::trials).get<int64_t>();
      retrieved += seed.at(i).at(key::retrieved).get<int64_t>();
      digit_nll += seed.at(i).at(key::digit_nll).get<double>() / double(per_seed.size());
    }
    out[i][key::trials] = trials;
    out[i][key::retrieved] = retrieved;
    out[i][key::accuracy] = trials ? double(retrieved) / double(trials) : 0.0;
    out[i][key::digit_nll] = digit_nll;
  }
  return out;
}

bool same_trained_model(const json& run_a, const json& run_b) {
  return run_a.at(key::name) == run_b.at(key::name) ||
         (run_a.contains(key::trained_model) && run_a[key::trained_model] == run_b.value(key::trained_model, json()));
}

Comparison compare_results(const json& left, const json& right, bool same_model, const std::string& metric) {
  const MetricKeys keys = metric_keys(metric);
  Comparison c;
  c.difference = left.at(metric).get<double>() - right.at(metric).get<double>();
  c.error = c.df = c.critical = c.cluster_se = c.cluster_df = c.seed_se = kNaN;
  if (!left.contains(key::per_document) || !right.contains(key::per_document)) {
    c.problem = "per-document sums are missing (a report written before this version): re-run the config";
    return c;
  }
  const auto counts = left[key::per_document][keys.count].get<std::vector<int64_t>>();
  if (left[key::per_document][key::ids] != right[key::per_document][key::ids] ||
      right[key::per_document][keys.count].get<std::vector<int64_t>>() != counts) {
    c.problem = fmt::format("the two results did not score the same {} (compare results of one report)", cluster_word(left));
    return c;
  }
  const auto [d, doc] = paired_difference(left[key::per_document][keys.sum].get<std::vector<double>>(),
                                             right[key::per_document][keys.sum].get<std::vector<double>>(), counts);
  const auto ls = seed_values(left, metric), rs = seed_values(right, metric);
  // Seed k of one side is paired with seed k of the other: they must be the same seeds (a report
  // older than the "seeds" key pairs by position, as every run of one config has the same seeds).
  if (left.contains(key::seeds) != right.contains(key::seeds) ||
      (left.contains(key::seeds) && left[key::seeds] != right[key::seeds])) {
    c.problem = fmt::format("the two results were trained from different seeds ({} and {}); pairing by seed needs the "
                            "same ones", left.value(key::seeds, json("unrecorded")).dump(),
                            right.value(key::seeds, json("unrecorded")).dump());
    return c;
  }
  double se_seed = kNaN, seed_df = 0;
  if (ls.size() == rs.size() && ls.size() >= 2) {
    std::vector<double> diffs(ls.size());
    for (size_t k = 0; k < ls.size(); ++k) diffs[k] = ls[k] - rs[k];
    se_seed = mean_and_stderr(diffs).second;
    seed_df = double(ls.size()) - 1;
    c.kind = fmt::format("paired by {} {} and {} seeds", counts.size(), cluster_word(left), ls.size());
  } else if (!same_model) {
    c.problem = fmt::format("separately trained models need at least 2 seeds each (and the same seeds) for a "
                            "difference with training variance; these have {} and {}", ls.size(), rs.size());
  } else {
    c.kind = fmt::format("paired by {} {}, 1 seed", counts.size(), cluster_word(left));
  }
  const auto [se, df] = combine_errors({{doc.se, doc.df}, {se_seed, seed_df}});
  c.cluster_se = doc.se;
  c.cluster_df = doc.df;
  c.seed_se = se_seed;
  c.seeds = int64_t(ls.size());
  c.difference = d;  // equals the difference of the means: every result scores the same clusters
  c.error = se;
  c.df = df;
  c.critical = t_quantile_975(df);
  if (c.problem.empty() && !std::isfinite(se))
    c.problem = fmt::format("no error: {} {} and {} seed(s)", counts.size(), cluster_word(left), ls.size());
  return c;
}

}  // namespace lb

namespace lb {

void aggregate_run(json& run, const std::vector<uint64_t>& expected_seeds) {
  json& seeds = run[key::seeds];
  // Records in the config's seed order, whatever order shards or resumes delivered them in.
  std::vector<json> ordered;
  for (uint64_t s : expected_seeds)
    for (const auto& record : seeds)
      if (record.at(key::seed).get<uint64_t>() == s) ordered.push_back(record);
  seeds = ordered;
  run[key::status] = ordered.size() == expected_seeds.size() ? "complete" : "incomplete";
  std::vector<json> results, passkey;
  double loss = 0, speed = 0, seconds = 0, rss = 0;
  for (const auto& record : ordered) {
    if (record.value(key::status, "complete") == "failed") {
      run[key::status] = "failed";
      run[key::error] = fmt::format("seed {}: {}", record[key::seed].get<uint64_t>(), record.value(key::error, ""));
      run[key::results] = json::array();
      run.erase(key::passkey);
      return;
    }
    results.push_back(record.at(key::results));
    if (record.contains(key::passkey)) passkey.push_back(record[key::passkey]);
    loss += record[key::train][key::final_loss].get<double>() / double(ordered.size());
    speed += record[key::train][key::tokens_per_second].get<double>() / double(ordered.size());
    seconds += record[key::train][key::seconds].get<double>();
    rss = std::max(rss, record.value(key::peak_rss_mb, 0.0));
    if (record.contains(key::notes)) run[key::notes] = record[key::notes];
  }
  if (run[key::status] != "complete") return;
  run[key::results] = aggregate_seed_results(results);
  json seed_ids = json::array();  // which seeds each cell averages: paired comparisons match them
  for (const auto& record : ordered) seed_ids.push_back(record[key::seed]);
  for (auto& cell : run[key::results]) cell[key::seeds] = seed_ids;
  if (!passkey.empty()) run[key::passkey] = aggregate_seed_passkey(passkey);
  run[key::train] = {{key::final_loss, loss}, {key::tokens_per_second, speed}, {key::seconds, seconds}};
  run[key::peak_rss_mb] = rss;
}

}  // namespace lb
