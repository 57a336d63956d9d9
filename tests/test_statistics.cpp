// Exact Student-t quantiles and the CR2 / Bell-McCaffrey cluster error, against values derived
// independently: t quantiles from closed forms (df 1, 2) and from Simpson integration of the t
// density (df 1.4, 2.5, 30; 20,000 intervals, bisection), the cluster error from the token-level
// matrices of its definition built explicitly (hat matrix, (I - H_gg)^(-1/2) by eigendecomposition,
// and the Satterthwaite df of the quadratic form).
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "harness/core/power.h"
#include "harness/core/statistics.h"
#include "harness/core/student_t.h"

using namespace lb;

TEST_CASE("Student t: exact CDF and quantiles at fractional and small df") {
  const double pi = std::acos(-1.0);
  // df 1 is Cauchy: t_p = tan(pi (p - 1/2)); df 2: t_p = (2p - 1) / sqrt(2 p (1 - p)).
  CHECK(t_quantile(0.975, 1) == Approx(std::tan(pi * 0.475)).epsilon(1e-10));
  CHECK(t_quantile(0.975, 2) == Approx(0.95 / std::sqrt(2 * 0.975 * 0.025)).epsilon(1e-10));
  CHECK(t_cdf(1.0, 1) == Approx(0.75).epsilon(1e-12));
  // Simpson integration of the density (independent of the incomplete beta function).
  CHECK(t_quantile(0.975, 1.4) == Approx(6.657003).epsilon(1e-6));  // the old table gave 7.905
  CHECK(t_quantile(0.975, 2.5) == Approx(3.574655).epsilon(1e-6));
  CHECK(t_quantile(0.975, 30) == Approx(2.042272).epsilon(1e-6));
  CHECK(t_quantile(0.8, 1.4) == Approx(1.181976).epsilon(1e-6));
  CHECK(t_quantile(0.8, 30) == Approx(0.853767).epsilon(1e-6));
  CHECK(t_cdf(1.0, 2.5) == Approx(0.79796949).epsilon(1e-7));
  // Symmetry, the normal limit and the inverse relation.
  CHECK(t_quantile(0.025, 2.5) == Approx(-t_quantile(0.975, 2.5)));
  CHECK(t_cdf(1.959964, std::numeric_limits<double>::infinity()) == Approx(0.975).epsilon(1e-6));
  for (double v : {0.7, 1.4, 3.3, 17.0, 250.0})
    for (double p : {0.6, 0.8, 0.975, 0.999}) CHECK(t_cdf(t_quantile(p, v), v) == Approx(p).epsilon(1e-10));
  CHECK(std::isnan(t_quantile(1.0, 3)));
  CHECK(std::isnan(t_quantile(0.9, 0)));
  CHECK(incomplete_beta(2, 3, 0.4) == Approx(0.5248).epsilon(1e-10));  // 1 - sum_{j<2} C(4,j) .4^j .6^(4-j)
}

namespace {

// CR2 and Bell-McCaffrey by their definitions, over per-token values y (clusters of the given sizes).
std::pair<double, double> cr2_by_definition(const std::vector<double>& y, const std::vector<int64_t>& sizes) {
  const int64_t N = int64_t(y.size());
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor Y = torch::tensor(y, opts);
  const torch::Tensor H = torch::full({N, N}, 1.0 / double(N), opts);  // X (X'X)^-1 X' for X = 1
  const torch::Tensor I = torch::eye(N, opts);
  const torch::Tensor e = torch::matmul(I - H, Y);
  torch::Tensor W = torch::zeros({N, N}, opts);  // sum_g A_g' 1_g 1_g' A_g / N^2 on cluster g's block
  double v = 0;
  int64_t start = 0;
  for (int64_t n : sizes) {
    const torch::Tensor block = (I - H).slice(0, start, start + n).slice(1, start, start + n);
    const auto [values, vectors] = torch::linalg::eigh(block, "L");
    const torch::Tensor A = torch::matmul(vectors * values.rsqrt().unsqueeze(0), vectors.t());  // (I - H_gg)^(-1/2)
    const torch::Tensor u = torch::matmul(A, torch::ones({n}, opts));
    v += std::pow(torch::dot(u, e.slice(0, start, start + n)).item<double>(), 2) / double(N * N);
    W.slice(0, start, start + n).slice(1, start, start + n) = torch::outer(u, u) / double(N * N);
    start += n;
  }
  // v = eps' B eps with B = (I - H) W (I - H): Satterthwaite df = (tr B)^2 / tr(B^2).
  const torch::Tensor B = torch::matmul(torch::matmul(I - H, W), I - H);
  const double tr = B.trace().item<double>(), tr2 = torch::matmul(B, B).trace().item<double>();
  return {std::sqrt(v), tr * tr / tr2};
}

}  // namespace

TEST_CASE("CR2 cluster error and Bell-McCaffrey df equal their token-level definitions") {
  torch::manual_seed(3);
  for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{2, 3, 5}, {1, 1, 9, 4, 2}, {4, 4, 4, 4}, {30, 2}}) {
    int64_t N = 0;
    for (int64_t n : sizes) N += n;
    const auto y = torch::randn({N}, torch::kFloat64);
    std::vector<double> tokens(y.data_ptr<double>(), y.data_ptr<double>() + N), sums;
    int64_t start = 0;
    for (int64_t n : sizes) {
      double s = 0;
      for (int64_t i = start; i < start + n; ++i) s += tokens[i];
      sums.push_back(s);
      start += n;
    }
    const auto [se, df] = cr2_by_definition(tokens, sizes);
    const ClusterError fast = cluster_error(sums, sizes);
    CHECK(fast.se == Approx(se).epsilon(1e-10));
    CHECK(fast.df == Approx(df).epsilon(1e-10));
    CHECK(fast.df <= double(sizes.size()) - 1 + 1e-9);  // never more than G - 1 effective clusters
  }
  // Equal clusters: df = G - 1 exactly; one dominant cluster: close to 1.
  CHECK(cluster_error({1, 2, 3, 7}, {4, 4, 4, 4}).df == Approx(3.0));
  CHECK(cluster_error({1, 2, 3, 7}, {100, 1, 1, 1}).df < 1.2);
  CHECK(std::isnan(cluster_error({1}, {4}).se));
}

TEST_CASE("power: detectable distance, power at a distance, seeds needed, and Holm's adjustment") {
  const double inf = std::numeric_limits<double>::infinity();
  // Normal limit: (1.959964 + 0.841621) se, and 80% power exactly there.
  CHECK(detectable_distance(0.1, inf) == Approx(0.2801585).epsilon(1e-6));
  CHECK(power_at(detectable_distance(0.1, 7.5), 0.1, 7.5) == Approx(0.8).epsilon(1e-9));
  CHECK(power_at(0, 0.1, 7.5) == Approx(0.025).epsilon(1e-9));  // at the threshold: the level
  CHECK(power_at(detectable_distance(0.1, 7.5, true), 0.1, 7.5, true) == Approx(0.8).epsilon(1e-9));
  // Seeds: the smallest K' whose error detects the distance; one fewer does not.
  const ErrorComponents e{0.01, 50, 0.05, 3};
  const int64_t k = seeds_needed(e, 0.1);
  REQUIRE(k > 2);
  auto detectable_at = [&](int64_t seeds) {
    const double vc = 1e-4, vs = 0.05 * 0.05 * 3 / double(seeds), v = vc + vs;
    return detectable_distance(std::sqrt(v), v * v / (vc * vc / 50 + vs * vs / double(seeds - 1)));
  };
  CHECK(detectable_at(k) <= 0.1);
  CHECK(detectable_at(k - 1) > 0.1);
  CHECK(seeds_needed({1.0, 50, 0.05, 3}, 0.1) == -1);  // the cluster part alone is too large
  CHECK(seeds_needed({0.01, 50, std::nan(""), 1}, 0.1) == 0);  // seed variance unknown
  // Holm: sorted 0.01, 0.03, 0.04 times 3, 2, 1, running maximum; NaN stays out of the family.
  const auto adj = holm_adjust({0.01, 0.04, 0.03, std::nan("")});
  CHECK(adj[0] == Approx(0.03));
  CHECK(adj[1] == Approx(0.06));
  CHECK(adj[2] == Approx(0.06));
  CHECK(std::isnan(adj[3]));
}
