// Training batches, reproducible from (seed, step) so a resumed run sees the same ones: random
// windows of a token stream, or generated task instances with the loss on their answers.
#pragma once
#include <torch/torch.h>
#include <functional>
#include <memory>

#include "harness/config/config.h"
#include "harness/data/tokenizer.h"

namespace lb {

struct TrainBatch {
  torch::Tensor tokens;   // [B, T+1] int64
  torch::Tensor weights;  // [B, T] fp32: 1 where a target counts in the loss; undefined = every target
};
using BatchSource = std::function<TrainBatch(int64_t batch, int64_t length, uint64_t seed, int64_t step)>;

// Random training windows [B, T+1] (int64), drawn from `stream` with a generator seeded from
// (seed, step).
torch::Tensor sample_windows(const torch::Tensor& stream, int64_t batch, int64_t length, uint64_t seed,
                             int64_t step);
BatchSource stream_batches(torch::Tensor stream);

// Task data: each row one instance of a task drawn uniformly from the config's, of a length drawn
// uniformly from [min_length x L, L] + 1 tokens, padded; the loss counts its answer tokens only.
BatchSource task_batches(const TaskConfig& tasks, int64_t train_length);

// Text with a fraction of each batch's rows replaced by passkey prompts in the probe's format
// (random key, depth and length up to L), the loss on the key's tokens only.
BatchSource with_passkey_rows(BatchSource text, double fraction, std::shared_ptr<const Tokenizer> tokenizer,
                              int64_t digits);

}  // namespace lb
