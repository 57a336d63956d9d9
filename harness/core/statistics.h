// The statistics every number of a report carries, in one place (torch-free).
//
// Sampling unit: the held-out *document* (or the corpus's cluster unit, data.clusters). Every
// result of a report scores the same tokens (the evaluation sample, harness/eval/windows.h),
// attributed to their clusters, so per-cluster sums s_g (nll) and n_g (tokens) are comparable
// across runs, lengths and protocols.
//   Cluster-robust error of a mean, CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018): the
//   mean is the intercept of a regression of per-token nll on 1, so cluster g's leverage is
//   c_g = n_g / N and its residual sum r_g = s_g - n_g * mean is adjusted by (1 - c_g)^(-1/2):
//     se_doc^2 = sum_g r_g^2 / (1 - c_g) / N^2,
//   with the Bell-McCaffrey degrees of freedom df_doc = (tr M)^2 / sum_gh M_gh^2,
//   M = D_a (diag(n) - n n^T / N) D_a, a_g = (1 - c_g)^(-1/2) (equal clusters: se as CR1, df = G-1;
//   unequal ones: fewer effective clusters). Undefined ("n/a", NaN) with fewer than 2 clusters.
// Training seeds: a run trained with K seeds reports m = mean_k m_k, with
//   se^2 = se_doc(seed-averaged s_g)^2 + var_k(m_k) / K,
// i.e. the cluster-sampling error of the mean plus the between-seed error (which needs K >= 2;
// with one seed it is unknown and the report says so). Degrees of freedom by Satterthwaite:
//   df = (v_doc + v_seed)^2 / (v_doc^2 / df_doc + v_seed^2 / (K-1)),
// and intervals use the exact t quantile at that df (harness/core/student_t.h).
// Paired comparisons of two results (claims, tables --baseline) difference the per-document sums
// (same documents) and the per-seed means (same seeds: seed k of both runs shares its data order
// and initialisation stream), then apply the same formulas to the differences.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

// CR2 error of the mean of per-cluster sums and its Bell-McCaffrey df (both NaN below 2 clusters).
struct ClusterError {
  double se;
  double df;
};
ClusterError cluster_error(const std::vector<double>& sums, const std::vector<int64_t>& counts);
double clustered_stderr(const std::vector<double>& sums, const std::vector<int64_t>& counts);  // .se

// Mean difference a - b per token and its cluster error (clusters aligned).
struct PairedDifference {
  double difference;
  ClusterError error;
};
PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                                   const std::vector<int64_t>& counts);

// The 97.5% quantile of Student's t with `df` > 0 degrees of freedom (fractional df allowed;
// infinite df gives 1.96). NaN otherwise.
double t_quantile_975(double df);

// One error from independent variance components, each with its degrees of freedom; NaN parts
// are skipped. Returns {se, df}; se NaN when no part is known.
struct ErrorPart {
  double se;
  double df;
};
std::pair<double, double> combine_errors(const std::vector<ErrorPart>& parts);

// Combines one run's per-seed results (same sample, same lengths and protocols) into the cells
// tables, plots and claims read: mean over seeds with the error above. Keeps every per-seed number
// under "seed_nll" and the parts of the error under "stderr_parts".
// Task results (harness/eval/task_eval.h) carry accuracy and token_accuracy the same way, their
// clusters being task instances.
nlohmann::json aggregate_seed_results(const std::vector<nlohmann::json>& per_seed_results);
// The metrics a result may carry, each a ratio of per-cluster sums.
const std::vector<std::string>& metric_names();
nlohmann::json aggregate_seed_passkey(const std::vector<nlohmann::json>& per_seed_passkey);

// A paired comparison of two aggregated results: difference (left - right) and its error.
struct Comparison {
  double difference = 0, error = 0, df = 0, critical = 2;
  double cluster_se = 0, cluster_df = 0, seed_se = 0;  // the error's parts (NaN: unknown)
  int64_t seeds = 0;
  std::string kind;    // "paired by document and seed", ...
  std::string problem; // non-empty: no honest error (the verdict must be inconclusive)
};
// `same_model`: both results come from the same trained weights (one run at two lengths, or two
// inference-time scalings of one model); then one seed needs no between-seed term. Otherwise a
// difference between separately trained models needs at least 2 seeds on each side.
// `metric`: nll (default), or accuracy / token_accuracy for task results (clusters = instances).
Comparison compare_results(const nlohmann::json& left, const nlohmann::json& right, bool same_model,
                           const std::string& metric = "nll");

// Whether two run entries of a report evaluate the same trained weights: the same run, or runs
// with the same "trained_model" (inference-time settings differ only).
bool same_trained_model(const nlohmann::json& run_a, const nlohmann::json& run_b);

}  // namespace lb

namespace lb {

// Fills a run entry's seed-level summary from its per-seed records (run["seeds"], each with
// "seed", "status" and, when complete, "train", "results", optionally "passkey"): "results" and
// "passkey" become the aggregates above, "train" the mean loss and speed and the summed time;
// "status" is "failed" when a seed failed, "incomplete" while `expected_seeds` are not all there.
void aggregate_run(nlohmann::json& run, const std::vector<uint64_t>& expected_seeds);

}  // namespace lb
