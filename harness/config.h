// Experiment configuration. The structs below are the one source of every key, its default and
// its type: each lists its fields once (`fields`), and the JSON defaults, the type checks of a
// user's file and `--set` overrides, and the parsing are all derived from that list. Unknown
// keys and wrong types fail with a message naming the key. Torch-free.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "encodings/rope_scaling.h"
#include "harness/errors.h"

namespace lb {

struct TokenizerConfig {
  std::string kind = "bytes";      // bytes | sentencepiece
  std::string model;               // an existing SentencePiece .model; empty = train one on the training split
  std::string type = "unigram";    // unigram | bpe (training only)
  int64_t vocab_size = 4096;       // training only
  int64_t max_sentences = 300000;  // training only
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("kind", s.kind), v("model", s.model), v("type", s.type), v("vocab_size", s.vocab_size),
        v("max_sentences", s.max_sentences);
  }
};

// Synthetic tasks instead of text (harness/data/tasks.h): every run trains one model on a mixture
// of the named tasks (loss on answer tokens only) and is scored per task by exact match.
struct TaskConfig {
  std::vector<std::string> names;  // empty = text data from data.path
  int64_t instances = 200;         // evaluation instances per task and length
  double min_length = 0.25;        // training instances: lengths uniform in [min_length x L, L] tokens
  int64_t queries = 4;             // recall: queries per instance
  int64_t distractors = 2;         // passkey: needles besides the asked one
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("names", s.names), v("instances", s.instances), v("min_length", s.min_length), v("queries", s.queries),
        v("distractors", s.distractors);
  }
};

struct DataConfig {
  std::string path = "datasets/corpora/kernel-docs";
  std::string format = "auto";  // auto | text | dir | jsonl | bin | bytes
  std::string field = "text";   // JSONL text field
  int64_t vocab_size = 0;       // .bin token files: required; byte formats: 256
  double held_out_fraction = 0.05;
  int64_t eval_tokens = 131072;
  TokenizerConfig tokenizer;
  std::string cache_dir = "datasets/cache";  // tokenized streams + manifests
  TaskConfig task;
  // Text data: the fraction of each training batch's rows replaced by passkey prompts in the
  // probe's own format (loss on the key only), so the passkey probe asks what training taught.
  double passkey_mix = 0.0;
  bool is_task() const { return !task.names.empty(); }
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("path", s.path), v("format", s.format), v("field", s.field), v("vocab_size", s.vocab_size),
        v("held_out_fraction", s.held_out_fraction), v("eval_tokens", s.eval_tokens), v("tokenizer", s.tokenizer),
        v("cache_dir", s.cache_dir), v("task", s.task), v("passkey_mix", s.passkey_mix);
  }
};

struct ModelConfig {
  int64_t vocab = 256;  // not a config key: the corpus's tokenizer decides it
  int64_t layers = 4;
  int64_t d_model = 128;
  int64_t heads = 4;
  int64_t mlp_ratio = 4;
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("layers", s.layers), v("d_model", s.d_model), v("heads", s.heads), v("mlp_ratio", s.mlp_ratio);
  }
};

struct TrainConfig {
  int64_t length = 128;  // L
  int64_t steps = 600;
  int64_t batch_size = 16;
  double lr = 3e-3;
  double min_lr_ratio = 0.1;
  int64_t warmup_steps = 50;
  double weight_decay = 0.1;
  double grad_clip = 1.0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  int64_t log_every = 50;
  int64_t checkpoint_every = 200;
  // Train the seeds of one run as one fused model (harness/model/fused.h) where the encoding
  // allows it; each seed's weights match its solo training up to float rounding.
  bool fuse_seeds = false;
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("length", s.length), v("steps", s.steps), v("batch_size", s.batch_size), v("lr", s.lr),
        v("min_lr_ratio", s.min_lr_ratio), v("warmup_steps", s.warmup_steps), v("weight_decay", s.weight_decay),
        v("grad_clip", s.grad_clip), v("beta1", s.beta1), v("beta2", s.beta2), v("log_every", s.log_every),
        v("checkpoint_every", s.checkpoint_every), v("fuse_seeds", s.fuse_seeds);
  }
};

struct PasskeyConfig {
  int64_t trials = 0;  // 0 = no passkey probe
  std::vector<double> depths = {0.1, 0.5, 0.9};
  int64_t digits = 5;
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("trials", s.trials), v("depths", s.depths), v("digits", s.digits);
  }
};

struct EvalConfig {
  std::vector<double> lengths = {1, 2, 3, 4};  // multiples of train.length
  std::string sample = "stream";  // stream | documents (harness/eval/windows.h)
  std::vector<std::string> protocols = {"nonoverlapping"};
  int64_t sliding_stride = 0;  // tokens; 0 = train.length / 2
  double bucket_width = 1.0;   // multiples of train.length
  int64_t batch_tokens = 16384;
  PasskeyConfig passkey;
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("lengths", s.lengths), v("sample", s.sample), v("protocols", s.protocols), v("sliding_stride", s.sliding_stride),
        v("bucket_width", s.bucket_width), v("batch_tokens", s.batch_tokens), v("passkey", s.passkey);
  }
};

// A run entry's "finetune": continue training with the run's scaling at length x L.
struct FinetuneConfig {
  int64_t steps = 0;
  double length = 2.0;  // multiple of train.length
  double lr = 0.0;      // 0 = train.lr * 0.1
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("steps", s.steps), v("length", s.length), v("lr", s.lr);
  }
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
  std::string name = "lengthbench";
  std::string description;
  uint64_t seed = 1234;             // the evaluation sample, passkey prompts, and the training seed unless `seeds`
  std::vector<int64_t> seeds;      // training seeds: each run is trained once per seed (empty = [seed])
  int threads = 0;                 // 0 = all cores
  std::string precision = "auto";  // auto | bf16 | fp32 (auto: bf16 only where the hardware has it natively)
  std::string device = "auto";     // auto (CUDA when libtorch has a device, else CPU) | cpu | cuda
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  EvalConfig eval;
  std::vector<RunSpec> runs;      // key "runs": a list of run entries
  nlohmann::json resolved;        // the fully resolved configuration, as written to the report
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("name", s.name), v("description", s.description), v("seed", s.seed), v("seeds", s.seeds), v("threads", s.threads),
        v("precision", s.precision), v("device", s.device), v("data", s.data), v("model", s.model),
        v("train", s.train), v("eval", s.eval);
  }

  int64_t eval_length(double multiple) const;
  std::vector<uint64_t> training_seeds() const;
  std::vector<int64_t> eval_lengths() const;
};

// Parameters of the model a run trains, apart from its token embedding (which every model of a
// config shares): per block qkv + projection + MLP + two LayerNorms, the final LayerNorm, and a
// row per position for learned absolute tables (`max_length` rows). Other encodings' own
// parameters are negligible. For cost and memory estimates made before any model exists.
double non_embedding_parameters(const Config& c, const std::string& encoding, int64_t max_length);

// Every key with its default, derived from the structs (plus "runs" and "claims", empty).
const nlohmann::json& config_defaults();
// Applies "a.b.c=value" (value parsed as JSON, else taken as a string) to `config`.
void apply_override(nlohmann::json& config, const std::string& assignment);
Config parse_config(const nlohmann::json& user);
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// The shape of config key "claims" (what a claim means: harness/report/claims.h), checked
// against the config's run names, eval lengths and protocols; throws ConfigError naming the entry.
void validate_claims(const nlohmann::json& claims, const std::vector<std::string>& run_names,
                     const std::vector<double>& lengths, const std::vector<std::string>& protocols,
                     const std::vector<std::string>& tasks = {});

struct ConfigError : InputError {
  using InputError::InputError;
};

}  // namespace lb
