#pragma once
#include <vector>

namespace lb {
// ALiBi head slopes (Press et al. 2022): the geometric sequence 2^(-8/n), 2^(-16/n), ... for a
// power-of-two n; otherwise the paper's reference rule: the slopes of the closest smaller power
// of two, then every other slope of twice that power.
std::vector<double> alibi_slopes(int heads);
}  // namespace lb
