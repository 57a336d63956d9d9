#include "harness/run/precision_probe.h"

#include <spdlog/spdlog.h>
#include <torch/version.h>
#include <filesystem>

#include "harness/core/atomic_file.h"
#include "harness/core/hash.h"
#include "harness/model/build.h"
#include "harness/run/preflight.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kRounds = 2;  // alternating rounds per precision; each calibrate_training times 3 steps

json record_key(const Config& c, const RunSpec& run, int64_t vocab, const Hardware& hw, int threads) {
  return {{"cpu", hw.cpu_model},        {"cpu_flags", hw.cpu_flags},   {"libtorch", TORCH_VERSION},
          {"threads", threads},         {"model", c.resolved["model"]}, {"vocab", vocab},
          {"length", c.train.length},   {"batch_size", c.train.batch_size}, {"encoding", run.encoding}};
}

}  // namespace

std::string precision_record_path(const Config& c, const RunSpec& run, int64_t vocab, const Hardware& hw, int threads) {
  const json key = record_key(c, run, vocab, hw, threads);
  return (fs::path(c.data.cache_dir) / "precision" / (hex64(fnv1a(key.dump())).substr(0, 12) + ".json")).string();
}

PrecisionRates precision_rates(const Config& c, const RunSpec& run, const BatchSource& batches, int64_t vocab,
                               int64_t max_length, const Hardware& hw, int threads) {
  const std::string path = precision_record_path(c, run, vocab, hw, threads);
  const json key = record_key(c, run, vocab, hw, threads);
  if (fs::exists(path)) {
    try {
      const json record = read_json_file(path);
      if (record.at("key") == key)
        return {record.at("bf16_tokens_per_second").get<double>(), record.at("fp32_tokens_per_second").get<double>(),
                "recorded in " + path};
    } catch (const std::exception& e) {
      spdlog::warn("precision record {} is unreadable ({}); measuring again", path, e.what());
    }
  }
  PrecisionRates rates;
  GPT model = build_model(c, run, vocab, max_length, c.seed);
  for (int round = 0; round < kRounds; ++round)
    for (const bool bf16 : {true, false}) {
      const ThreadLayoutScope layout(choose_thread_layout(threads, bf16, "cpu"));
      const double tps = calibrate_training(model, batches, c, Compute{torch::kCPU, bf16});
      double& best = bf16 ? rates.bf16 : rates.fp32;
      best = std::max(best, tps);
    }
  rates.source = "measured now, recorded in " + path;
  try {
    ensure_directory(fs::path(path).parent_path().string(), "data.cache_dir");
    write_json_atomic(path, {{"key", key}, {"bf16_tokens_per_second", rates.bf16}, {"fp32_tokens_per_second", rates.fp32},
                             {"rounds", kRounds}});
  } catch (const std::exception& e) {
    spdlog::warn("could not record the precision measurement ({}); the next run measures again", e.what());
  }
  return rates;
}

}  // namespace lb
