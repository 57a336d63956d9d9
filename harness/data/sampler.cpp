#include "harness/data/sampler.h"

#include <fmt/format.h>

#include "harness/data/files.h"

namespace lb {

torch::Tensor sample_windows(const torch::Tensor& stream, int64_t batch, int64_t length, uint64_t seed,
                             int64_t step) {
  const int64_t span = length + 1;
  if (stream.numel() < span + 1)
    throw DataError(fmt::format("the training stream has {} tokens, fewer than one window of {}",
                                stream.numel(), span));
  auto gen = at::detail::createCPUGenerator(seed * 1000003ull + uint64_t(step));
  auto starts = torch::randint(stream.numel() - span, {batch, 1}, gen, torch::kInt64);
  return token_ids(stream.index({starts + torch::arange(span, torch::kInt64)}));
}

}  // namespace lb
