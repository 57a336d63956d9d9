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

}  // namespace lb::test
