#include "harness/core/power.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "harness/core/student_t.h"

namespace lb {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double critical(double df) { return t_quantile(1 - kClaimAlpha, df); }
}  // namespace

double detectable_distance(double se, double df, bool two_sided) {
  if (!std::isfinite(se) || !(df > 0)) return kNaN;
  return (critical(df) + t_quantile(two_sided ? (1 + kTargetPower) / 2 : kTargetPower, df)) * se;
}

double power_at(double delta, double se, double df, bool two_sided) {
  if (!std::isfinite(se) || !(df > 0) || std::isnan(delta)) return kNaN;
  if (se == 0) return delta > 0 ? 1.0 : 0.0;
  if (two_sided) return std::max(0.0, 2 * t_cdf(delta / se - critical(df), df) - 1);
  return 1 - t_cdf(critical(df) - delta / se, df);
}

int64_t seeds_needed(const ErrorComponents& e, double distance, bool two_sided, int64_t max_seeds) {
  if (!std::isfinite(e.se_seed) || e.seeds < 2 || !(distance > 0)) return 0;
  const double v_cluster = std::isfinite(e.se_cluster) ? e.se_cluster * e.se_cluster : 0.0;
  const double seed_unit = e.se_seed * e.se_seed * double(e.seeds);  // variance of one seed's mean
  for (int64_t k = 2; k <= max_seeds; ++k) {
    const double v_seed = seed_unit / double(k), v = v_cluster + v_seed;
    double denominator = v_seed * v_seed / double(k - 1);
    if (v_cluster > 0 && e.df_cluster > 0) denominator += v_cluster * v_cluster / e.df_cluster;
    const double df = denominator > 0 ? v * v / denominator : std::numeric_limits<double>::infinity();
    if (detectable_distance(std::sqrt(v), df, two_sided) <= distance) return k;
  }
  return -1;
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::isfinite(p[i])) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(p.size(), kNaN);
  const double m = double(order.size());
  double running = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    running = std::max(running, std::min(1.0, (m - double(j)) * p[order[j]]));
    adjusted[order[j]] = running;
  }
  return adjusted;
}

}  // namespace lb
