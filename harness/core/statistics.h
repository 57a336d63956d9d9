// The statistics every number of a report carries, in one place (torch-free).
//
// Sampling unit: the held-out *document*. Every result of a report scores the same tokens (the
// evaluation sample, harness/eval/windows.h), attributed to their documents, so per-document sums
// s_d (nll) and n_d (tokens) are comparable across runs, lengths and protocols.
//   Document-clustered error of a mean:  se_doc = sqrt(D/(D-1) * sum_d (s_d - n_d * mean)^2) / N,
//   undefined ("n/a", NaN) with fewer than 2 documents.
// Training seeds: a run trained with K seeds reports m = mean_k m_k, with
//   se^2 = se_doc(seed-averaged s_d)^2 + var_k(m_k) / K,
// i.e. the document-sampling error of the mean plus the between-seed error (which needs K >= 2;
// with one seed it is unknown and the report says so). Degrees of freedom by Satterthwaite:
//   df = (v_doc + v_seed)^2 / (v_doc^2 / (D-1) + v_seed^2 / (K-1)),
// and intervals use the t quantile at that df rather than a normal 2.
// Paired comparisons of two results (claims, tables --baseline) difference the per-document sums
// (same documents) and the per-seed means (same seeds: seed k of both runs shares its data order
// and initialisation stream), then apply the same formulas to the differences.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

// sqrt(D/(D-1) * sum_d (s_d - n_d*mean)^2) / N; NaN for fewer than 2 clusters.
double clustered_stderr(const std::vector<double>& sums, const std::vector<int64_t>& counts);

// Mean difference a - b per token and its clustered standard error (clusters aligned).
std::pair<double, double> paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                                            const std::vector<int64_t>& counts);

// The two-sided 97.5% quantile of Student's t with `df` degrees of freedom (df may be fractional;
// infinite df gives 1.96). NaN for df < 1.
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
