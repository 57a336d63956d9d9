#include "harness/data/sampler.h"

#include <fmt/format.h>
#include <random>

#include "harness/data/files.h"
#include "harness/data/tasks.h"
#include "harness/data/passkey_text.h"
#include "harness/core/hash.h"

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

BatchSource stream_batches(torch::Tensor stream) {
  return [stream](int64_t batch, int64_t length, uint64_t seed, int64_t step) {
    return TrainBatch{sample_windows(stream, batch, length, seed, step), {}};
  };
}

namespace {

// Writes one instance into row `row` of a batch: tokens, and weights on the targets that are answers.
void put_row(torch::Tensor& tokens, torch::Tensor& weights, int64_t row, const TaskInstance& instance) {
  auto t = tokens.accessor<int64_t, 2>();  // plain memory writes, not a tensor op per token
  auto w = weights.accessor<float, 2>();
  for (size_t i = 0; i < instance.tokens.size(); ++i) {
    t[row][int64_t(i)] = instance.tokens[i];
    if (i > 0) w[row][int64_t(i) - 1] = instance.answer[i] ? 1.0f : 0.0f;
  }
}

}  // namespace

BatchSource task_batches(const TaskConfig& tasks, int64_t train_length) {
  const int64_t shortest = std::llround(tasks.min_length * double(train_length)) + 1;
  return [tasks, shortest](int64_t batch, int64_t length, uint64_t seed, int64_t step) {
    auto tokens = torch::zeros({batch, length + 1}, torch::kInt64);
    auto weights = torch::zeros({batch, length}, torch::kFloat32);
    std::mt19937_64 rng(fnv1a(fmt::format("task batch/{}/{}", seed, step)));
    for (int64_t row = 0; row < batch; ++row) {
      const auto& task = tasks.names[std::uniform_int_distribution<size_t>(0, tasks.names.size() - 1)(rng)];
      const int64_t n = std::uniform_int_distribution<int64_t>(std::min(shortest, length + 1), length + 1)(rng);
      put_row(tokens, weights, row, make_task_instance(task, n, seed, uint64_t(step * batch + row), tasks));
    }
    return TrainBatch{tokens, weights};
  };
}

BatchSource with_passkey_rows(BatchSource text, double fraction, std::shared_ptr<const Tokenizer> tokenizer,
                              int64_t digits) {
  const int64_t shortest = passkey_min_length(*tokenizer, std::string(size_t(digits), '0'));
  return [text, fraction, tokenizer, digits, shortest](int64_t batch, int64_t length, uint64_t seed, int64_t step) {
    TrainBatch b = text(batch, length, seed, step);
    if (shortest > length)
      throw ConfigError(fmt::format("config key \"data.passkey_mix\": a passkey prompt needs {} tokens, more than the "
                                    "training length {}", shortest, length));
    b.weights = torch::ones({batch, length}, torch::kFloat32);
    std::mt19937_64 rng(fnv1a(fmt::format("passkey rows/{}/{}", seed, step)));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int64_t row = 0; row < batch; ++row) {
      if (unit(rng) >= fraction) continue;
      std::string key;
      for (int64_t d = 0; d < digits; ++d) key += char('0' + std::uniform_int_distribution<int>(d == 0 ? 1 : 0, 9)(rng));
      // Lengths from the shortest prompt to L, the key at a random depth.
      const int64_t n = std::uniform_int_distribution<int64_t>(shortest, length)(rng);
      PasskeyPrompt prompt;
      try {
        prompt = passkey_prompt(*tokenizer, n, unit(rng), key);
      } catch (const std::invalid_argument&) {  // a subword tokenizer split this key longer: keep the text row
        continue;
      }
      TaskInstance instance;
      instance.tokens.assign(prompt.ids.begin(), prompt.ids.end());
      instance.answer.assign(prompt.ids.size(), 0);
      for (int64_t i = 0; i < prompt.answer_tokens; ++i) instance.answer[prompt.ids.size() - 1 - size_t(i)] = 1;
      instance.tokens.resize(size_t(length + 1), 0);
      instance.answer.resize(size_t(length + 1), 0);
      b.weights[row].zero_();
      put_row(b.tokens, b.weights, row, instance);
    }
    return b;
  };
}

}  // namespace lb
