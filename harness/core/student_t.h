// Student's t distribution, exactly (torch-free): the CDF through the regularized incomplete beta
// function and the quantile by solving CDF(t) = p. No tables, no interpolation: degrees of freedom
// are often fractional (Satterthwaite, Bell-McCaffrey) and small (two seeds, few clusters).
//   F(t; v) = 1 - I_x(v/2, 1/2) / 2 for t >= 0, x = v / (v + t^2); F(-t) = 1 - F(t).
#pragma once

namespace lb {

// The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1 (continued fraction,
// relative error ~1e-14).
double incomplete_beta(double a, double b, double x);

// P(T <= t) for Student's t with v > 0 degrees of freedom (v = infinity: the normal CDF).
double t_cdf(double t, double v);

// The p-quantile (0 < p < 1) of Student's t with v > 0 degrees of freedom; NaN outside.
double t_quantile(double p, double v);

}  // namespace lb
