// Power of the claims' tests (torch-free). Every verdict is a one-sided t test at level 2.5% (the
// two-sided 95% interval, harness/report/claims.h); for a true distance `delta` from the claim's
// threshold, the test statistic is approximately t(df) shifted by delta / se, so
//   power(delta) = 1 - F_t(t_0.975 - delta / se)
// and the smallest distance detected with 80% power is (t_0.975 + t_0.80) * se. For an equivalence
// claim (|d| within a tolerance) at a true difference of 0 the two tails count:
//   power = 2 F_t(tol / se - t_0.975) - 1, 80% at tol = (t_0.975 + t_0.90) * se.
// How many seeds would be needed: the error's seed part shrinks as 1/K' (v_seed * K / K'), its
// cluster part does not; df by Satterthwaite at each K'.
#pragma once
#include <cstdint>
#include <vector>

namespace lb {

constexpr double kClaimAlpha = 0.025;  // one-sided level of every verdict
constexpr double kTargetPower = 0.8;

// The distance from the threshold detected with 80% power (two_sided: the equivalence case).
double detectable_distance(double se, double df, bool two_sided = false);

// Power at a true distance `delta` from the threshold (two_sided: equivalence at a true 0, delta = tol).
double power_at(double delta, double se, double df, bool two_sided = false);

// The error of a comparison, in its parts.
struct ErrorComponents {
  double se_cluster, df_cluster;  // cluster part (NaN: unknown)
  double se_seed;                 // seed part at `seeds` seeds (NaN: unknown, e.g. one seed)
  int64_t seeds;
};

// The smallest seed count K' (2..max_seeds) at which `distance` is detected with 80% power;
// 0 when the seed part is unknown; -1 when even max_seeds cannot (the cluster part alone is too
// large: more documents are needed, not more seeds).
int64_t seeds_needed(const ErrorComponents& e, double distance, bool two_sided = false, int64_t max_seeds = 1000);

// Holm's step-down adjustment of one-sided p-values (NaN entries are left out of the family and
// stay NaN): adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)) over the sorted p-values.
std::vector<double> holm_adjust(const std::vector<double>& p);

}  // namespace lb
