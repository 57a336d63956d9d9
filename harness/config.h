// Experiment configuration: JSON with defaults, `--set key.path=value` overrides, and strict
// validation (unknown keys and wrong types fail with a message naming the key).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "encodings/encoding.h"
#include "harness/model.h"

namespace lb {

struct TokenizerConfig {
  std::string kind = "bytes";  // bytes | sentencepiece
  std::string model;           // an existing SentencePiece .model; empty = train one on the training split
  std::string type = "unigram";  // unigram | bpe (training only)
  int64_t vocab_size = 4096;     // training only
  int64_t max_sentences = 300000;
};

struct DataConfig {
  std::string path;
  std::string format = "auto";  // auto | text | dir | jsonl | bin | bytes
  std::string field = "text";  // JSONL text field
  int64_t vocab_size = 0;  // .bin token files: required; byte formats: 256
  double held_out_fraction = 0.05;
  int64_t eval_tokens = 131072;
  TokenizerConfig tokenizer;
  std::string cache_dir = "datasets/cache";  // tokenized streams + manifests
};

struct TrainConfig {
  int64_t length = 128, steps = 600, batch_size = 16, warmup_steps = 50;
  double lr = 3e-3, min_lr_ratio = 0.1, weight_decay = 0.1, grad_clip = 1.0, beta1 = 0.9, beta2 = 0.95;
  int64_t log_every = 50, checkpoint_every = 200;
};

struct EvalConfig {
  std::vector<double> lengths;  // multiples of train.length
  std::vector<std::string> protocols;
  int64_t sliding_stride = 0;  // tokens; 0 = train.length
  double bucket_width = 1.0;   // multiples of train.length
  int64_t batch_tokens = 16384;
  int64_t passkey_trials = 0;  // 0 = no passkey probe
  std::vector<double> passkey_depths;
  int64_t passkey_digits = 5;
};

struct FinetuneConfig {
  int64_t steps = 0;
  double length = 0;  // multiple of train.length
  double lr = 0;      // 0 = train.lr * 0.1
};

struct RunSpec {
  std::string name;
  std::string encoding;
  nlohmann::json encoding_options = nlohmann::json::object();
  Scaling scaling;
  FinetuneConfig finetune;
  nlohmann::json entry;  // the run entry as written, with defaults filled
};

struct Config {
  nlohmann::json resolved;  // the fully resolved configuration, as written to the report
  std::string name;
  uint64_t seed = 1234;
  int threads = 0;
  std::string precision = "bf16";
  std::string device = "cpu";
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  EvalConfig eval;
  std::vector<RunSpec> runs;

  int64_t eval_length(double multiple) const;
  std::vector<int64_t> eval_lengths() const;
};

const nlohmann::json& config_defaults();
// Applies "a.b.c=value" (value parsed as JSON, else taken as a string) to `config`.
void apply_override(nlohmann::json& config, const std::string& assignment);
Config parse_config(const nlohmann::json& user);
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lb
