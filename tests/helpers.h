#pragma once
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <sstream>
#include <fstream>
#include <string>

#include "encodings/encoding.h"
#include "harness/model/model.h"
#include "harness/model/build.h"
#include "harness/train/trainer.h"

namespace lb::test {

// A config of the defaults with this model shape and one run of `encoding` (options unchecked:
// make_encoding checks them), for building through the runner's own construction path.
inline Config tiny_config(const std::string& encoding, int64_t train_length = 16, int64_t d_model = 32,
                          int64_t heads = 4, int64_t layers = 2, const nlohmann::json& options = nlohmann::json::object()) {
  Config c = read_config({{"runs", {{{"encoding", encoding}}}}});
  c.model.layers = layers;
  c.model.d_model = d_model;
  c.model.heads = heads;
  c.train.length = train_length;
  c.runs[0].encoding_options = options;
  return c;
}

inline GPT tiny_model(const std::string& encoding, int64_t train_length = 16, int64_t max_length = 64,
                      int64_t d_model = 32, int64_t heads = 4, int64_t layers = 2) {
  const Config c = tiny_config(encoding, train_length, d_model, heads, layers);
  return build_model(c, c.runs[0], 256, max_length, 7);
}

// An encoding's spec as the runner builds it (encoding_spec), for this shape: d_model, heads,
// train length, longest length, options (the order EncodingSpec lists them in).
inline EncodingSpec spec_of(const std::string& encoding, int64_t d_model, int64_t heads, int64_t train_length,
                            int64_t max_length, const nlohmann::json& options = nlohmann::json::object(),
                            int64_t layers = 1) {
  const Config c = tiny_config(encoding, train_length, d_model, heads, layers, options);
  return encoding_spec(c, c.runs[0], max_length);
}

// Weights large enough that positions visibly move the logits (at init, 0.02-scale weights make
// every attention nearly uniform, so different position schemes agree to 1e-3).
inline void scramble_weights(GPT& model, double std = 0.3) {
  torch::NoGradGuard g;
  torch::manual_seed(11);
  for (auto& p : model->parameters())
    if (p.dim() == 2) p.normal_(0.0, std);
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
  job.seed = 1234;
  return job;
}

// For head_dim 2 (one pair at frequency 1) and q = k = (1, 0): the score cos(angle_q(i) - angle_k(j))
// of query i and key j, with the second rotation (ReRoPE, SelfExtend) where the pair is far.
inline double unit_pair_score(const PositionInputs& pos, int64_t i, int64_t j) {
  const auto pairs = far_pairs(pos, 0, pos.length, torch::kCPU);
  const bool far = pairs.defined() && pairs[i][j].item<bool>();
  const double qa = std::atan2((far ? pos.far_q_sin : pos.sin)[i][0].item<double>(),
                               (far ? pos.far_q_cos : pos.cos)[i][0].item<double>());
  const double ka = std::atan2((far ? pos.far_k_sin : pos.sin)[j][0].item<double>(),
                               (far ? pos.far_k_cos : pos.cos)[j][0].item<double>());
  return std::cos(qa - ka);
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

// ---- the CLI as a child process (fault and data-parallel tests) ----

struct Child {
  int exit_code = -1;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Starts build/lengthbench with `args` and extra environment variables, its stdout and stderr going
// to dir/<name>.out and .err; `file_size_limit` > 0 caps the size of any file the child writes
// (RLIMIT_FSIZE, SIGXFSZ ignored).
inline pid_t spawn_cli(const std::vector<std::string>& args, const TempDir& dir, rlim_t file_size_limit = 0,
                       const std::vector<std::pair<std::string, std::string>>& env = {},
                       const std::string& name = "child") {
  const auto out = dir.path / (name + ".out"), err = dir.path / (name + ".err");
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    if (file_size_limit > 0) {
      signal(SIGXFSZ, SIG_IGN);
      struct rlimit limit {file_size_limit, file_size_limit};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    std::vector<char*> argv = {const_cast<char*>(LENGTHBENCH_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(LENGTHBENCH_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

inline Child wait_cli(pid_t pid, const TempDir& dir, const std::string& name = "child") {
  int status = 0;
  waitpid(pid, &status, 0);
  Child c;
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  c.err = slurp(dir.path / (name + ".err"));
  return c;
}

// Runs the CLI to the end; `during(pid)` runs in the parent while the child works.
inline Child run_cli(const std::vector<std::string>& args, const TempDir& dir, rlim_t file_size_limit = 0,
                     const std::function<void(pid_t)>& during = {}) {
  const pid_t pid = spawn_cli(args, dir, file_size_limit);
  if (during) during(pid);
  return wait_cli(pid, dir);
}

// The lines of stderr that are not progress logs (those start with a time stamp).
inline std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::stringstream in(err);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("error:", 0) == 0 || line.find("terminate") != std::string::npos || line.find("frame #") != std::string::npos)
      lines.push_back(line);
  return lines;
}

inline std::string write_config(const TempDir& dir, const nlohmann::json& cfg, const std::string& name = "config.json") {
  return dir.file(name, cfg.dump(2));
}

// Files below `dir` whose names end in `suffix`.
inline std::vector<std::filesystem::path> files_under(const std::filesystem::path& dir, const std::string& suffix) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  return out;
}

}  // namespace lb::test
