#pragma once
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "encodings/encoding.h"
#include "harness/model/model.h"
#include "harness/model/trainer.h"

namespace lb::test {

inline GPT tiny_model(const std::string& encoding, int64_t train_length = 16, int64_t max_length = 64,
                      int64_t d_model = 32, int64_t heads = 4, int64_t layers = 2) {
  EncodingSpec spec;
  spec.name = encoding;
  spec.d_model = d_model;
  spec.heads = heads;
  spec.train_length = train_length;
  spec.max_length = max_length;
  ModelConfig cfg;
  cfg.layers = layers;
  cfg.d_model = d_model;
  cfg.heads = heads;
  torch::manual_seed(7);
  return GPT(cfg, make_encoding(spec));
}

// A short fp32 training job for tests (no checkpoints, no progress lines).
inline TrainJob quick_job(int64_t length, int64_t steps, int64_t batch_size = 16) {
  TrainJob job;
  job.label = "test";
  job.train.length = length;
  job.train.steps = steps;
  job.train.batch_size = batch_size;
  job.train.warmup_steps = 5;
  job.train.lr = 3e-3;
  job.train.log_every = 1 << 30;
  job.bf16 = false;
  return job;
}

inline std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// A fresh directory under the system temp dir, removed when the object goes away.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("lengthbench-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name, const std::string& contents) const {
    auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << contents;
    return p.string();
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

// 40 documents of 400 random words from a small vocabulary.
inline std::string make_corpus(const TempDir& dir) {
  const char* words[] = {"the ", "kernel ", "driver ", "calls ", "a ", "function ", "to ", "map ", "memory ", "pages ", "\n"};
  uint64_t x = 42;
  for (int d = 0; d < 40; ++d) {
    std::string text;
    for (int w = 0; w < 400; ++w) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      text += words[(x >> 33) % 11];
    }
    dir.file("corpus/doc" + std::to_string(d) + ".txt", text);
  }
  return (dir.path / "corpus").string();
}

// A config that trains in well under a second on make_corpus's data.
inline nlohmann::json small_config(const std::string& data) {
  nlohmann::json cfg = nlohmann::json::parse(R"({
    "name": "e2e", "threads": 1,
    "model": {"layers": 1, "d_model": 32, "heads": 2},
    "train": {"length": 16, "steps": 12, "batch_size": 4, "warmup_steps": 2, "log_every": 100, "checkpoint_every": 5},
    "eval": {"lengths": [1, 2], "protocols": ["nonoverlapping", "sliding"], "sliding_stride": 8},
    "runs": [
      {"encoding": "rope"},
      {"encoding": "rope", "scaling": "yarn"},
      {"name": "rope+pi-ft", "encoding": "rope", "scaling": "pi", "factor": 2, "finetune": {"steps": 3, "length": 2}},
      {"encoding": "t5"}
    ]})");
  const auto cache = std::filesystem::path(data).parent_path() / "cache";
  cfg["data"] = {{"path", data}, {"eval_tokens", 512}, {"held_out_fraction", 0.2}, {"cache_dir", cache.string()}};
  return cfg;
}

}  // namespace lb::test
