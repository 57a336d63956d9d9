// Experiment configuration: plain structs, the one source of every key, its default and its
// type. Each lists its fields once (`fields`, harness/config/fields.h), and the JSON defaults,
// the type checks of a user's file and `--set` overrides, and the parsing are all derived from
// that list. Unknown keys and wrong types fail here with a message naming the key; what a value
// means is checked by the layer that uses it (data, model, train, eval, report), each for its own
// section, and harness/run/config_load.h runs them all. Torch-free; includes nothing above it.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <vector>

#include "harness/config/fields.h"
#include "harness/config/vocab.h"

namespace lb {

struct TokenizerConfig {
  TokenizerKind kind = TokenizerKind::kBytes;
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
  // The cluster unit errors are computed over (harness/core/statistics.h). A single file is one
  // document; document_separator (an ECMAScript regex, matched against each held-out line) starts
  // a new document at every matching line -- WikiText's headings: "^ = [^=].* = $". Without one,
  // a held-out split of fewer than 2 documents is clustered into contiguous blocks of
  // cluster_tokens tokens (0 = 8x the longest evaluation window): batch means, assuming dependence
  // decays within a block.
  std::string document_separator;
  int64_t cluster_tokens = 0;
  bool is_task() const { return !task.names.empty(); }
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("path", s.path), v("format", s.format), v("field", s.field), v("vocab_size", s.vocab_size),
        v("held_out_fraction", s.held_out_fraction), v("eval_tokens", s.eval_tokens), v("tokenizer", s.tokenizer),
        v("cache_dir", s.cache_dir), v("task", s.task), v("passkey_mix", s.passkey_mix),
        v("document_separator", s.document_separator), v("cluster_tokens", s.cluster_tokens);
  }
};

struct ModelConfig {
  int64_t vocab = 256;  // not a config key: the corpus's tokenizer decides it
  AttentionKind attention = AttentionKind::kSoftmax;  // not a config key: the run entry's "attention"
  int64_t layers = 4;
  int64_t d_model = 128;
  int64_t heads = 4;
  int64_t mlp_ratio = 4;
  // The recipe around the encoding (every report states it): whether the output head is the token
  // embedding transposed (GPT-2, nanoGPT) or its own matrix (init N(0, 0.02)), and the token
  // embedding's init std (nanoGPT 0.02; PyTorch's nn.Embedding and Vaswani et al.'s sqrt(d)-scaled
  // embeddings ~1). The sinusoidal table is scaled by the same std unless its "scale" says otherwise.
  bool tie_embeddings = true;
  double embedding_std = 0.02;
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("layers", s.layers), v("d_model", s.d_model), v("heads", s.heads), v("mlp_ratio", s.mlp_ratio),
        v("tie_embeddings", s.tie_embeddings), v("embedding_std", s.embedding_std);
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
  SampleKind sample = SampleKind::kStream;  // harness/eval/windows.h
  std::vector<Protocol> protocols = {Protocol::kNonoverlapping};
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
  // Absolute tables (learned): before fine-tuning, grow the trained rows to the target length by
  // "copy" (row i takes row i mod L) or "interpolate" (every row p takes the trained table at
  // p * (L - 1) / (T - 1), positions compressed as PI compresses them); "none" leaves the
  // untrained rows as they were.
  std::string extend = "none";
  template <class Self, class Visit>
  static void fields(Self& s, Visit&& v) {
    v("steps", s.steps), v("length", s.length), v("lr", s.lr), v("extend", s.extend);
  }
};

// A run's inference-time RoPE extension (harness/../encodings/rope_scaling.h holds the methods):
// method, factor s (nullopt = "auto"), method options (e.g. beta_fast).
struct Scaling {
  std::string method = "none";
  std::optional<double> factor;
  nlohmann::json options = nlohmann::json::object();
  // Exact dynamic mode for a length-dependent scaling: queries are scored in chunks of this many
  // tokens, each at s = max(1, chunk end / L) with everything it attends to recomputed at that s
  // (a model that rebuilds its cache whenever s changes). 0 = L/4; nullopt = one s per sequence.
  std::optional<int64_t> exact_chunk;
  // Deployment-time mode for a length-dependent scaling, as a KV-cache decoder applies it: the
  // query and key at position p are rotated once, at s = max(1, (p + 1) / L), and never again.
  bool kv_cache = false;
};

// Inference-time changes to attention any softmax run can take (run-entry keys logn,
// eval_window, eval_sinks); training never sees them.
struct InferenceAttention {
  // Qwen's logN (Chiang & Cholak 2022): the logits of the query at position p times
  // max(1, ln(p + 1) / ln L). 1 up to L.
  bool logn = false;
  // A sliding window (query i sees keys j with i - j < window) plus the first `sinks` tokens,
  // applied when evaluating a model trained with full attention. 0 = none.
  int64_t window = 0, sinks = 0;
  bool any() const { return logn || window > 0; }
  bool operator==(const InferenceAttention& o) const { return logn == o.logn && window == o.window && sinks == o.sinks; }
  bool operator!=(const InferenceAttention& o) const { return !(*this == o); }
};

// The keys every run entry may have besides its encoding's and scaling's options.
const std::set<std::string>& run_entry_keys();

// One entry of "runs". The config layer reads its shape (name, encoding, scaling, factor,
// exact_chunk, finetune); the model layer (harness/model/run_check.h) checks the names against
// the registries and sorts the remaining keys into encoding and scaling options.
struct RunSpec {
  std::string name;
  std::string encoding;
  nlohmann::json options = nlohmann::json::object();  // the entry's other keys, as written
  nlohmann::json encoding_options = nlohmann::json::object();
  AttentionKind attention = AttentionKind::kSoftmax;  // the entry's "attention"
  Scaling scaling;
  InferenceAttention inference;
  FinetuneConfig finetune;
  nlohmann::json entry;  // the run entry as written, with defaults filled
};

struct Config {
  std::string name = "lengthbench";
  std::string description;
  uint64_t seed = 1234;             // the evaluation sample, passkey prompts, and the training seed unless `seeds`
  std::vector<int64_t> seeds;      // training seeds: each run is trained once per seed (empty = [seed])
  int threads = 0;                 // 0 = all cores
  Precision precision = Precision::kAuto;
  DeviceChoice device = DeviceChoice::kAuto;
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  EvalConfig eval;
  std::vector<RunSpec> runs;      // key "runs": a list of run entries
  nlohmann::json claims = nlohmann::json::array();  // key "claims" (harness/report/claims.h)
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

// Every key with its default, derived from the structs (plus "runs" and "claims", empty).
const nlohmann::json& config_defaults();
// Applies "a.b.c=value" (value parsed as JSON, else taken as a string) to `config`.
void apply_override(nlohmann::json& config, const std::string& assignment);
// The user's JSON with defaults filled and every type checked; run entries read (grids
// expanded) but not yet checked against the registries; no domain rule applied. What
// harness/run/config_load.h builds the checked config from.
Config read_config(const nlohmann::json& user);
// A config file's JSON with `--set` overrides applied (errors name the file).
nlohmann::json read_config_file(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace lb
