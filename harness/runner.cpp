#include "harness/runner.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "harness/data/corpus.h"
#include "harness/eval/evaluator.h"
#include "harness/eval/passkey.h"
#include "harness/eval/task_eval.h"
#include "harness/atomic_file.h"
#include "harness/errors.h"
#include "harness/hash.h"
#include "harness/preflight.h"
#include "harness/shard_plan.h"
#include "harness/statistics.h"
#include "harness/model/fused.h"
#include "harness/model/model.h"
#include "harness/model/precision.h"
#include "harness/model/trainer.h"
#include "harness/report/environment.h"
#include "harness/report/files.h"
#include "harness/report/publish.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

int use_threads(int requested) {
  const int threads = requested > 0 ? requested : int(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

namespace {

// What this invocation computes with, decided once at its start.
struct Compute {
  torch::Device device;
  bool bf16;
  std::shared_ptr<DataParallel> data_parallel;  // null: one process
  bool main() const { return !data_parallel || data_parallel->is_main(); }  // evaluates and writes
};

std::string short_hash(const json& j) { return hex64(fnv1a(j.dump())).substr(0, 12); }

GPT build_model(const Config& c, const RunSpec& run, int64_t vocab, int64_t max_length, uint64_t seed) {
  EncodingSpec spec;
  spec.name = run.encoding;
  spec.d_model = c.model.d_model;
  spec.heads = c.model.heads;
  spec.train_length = c.train.length;
  spec.max_length = max_length;
  spec.layers = c.model.layers;
  spec.options = run.encoding_options;
  ModelConfig mc = c.model;
  mc.vocab = vocab;
  torch::manual_seed(seed);  // the same initialisation for a given config, encoding and seed
  return GPT(mc, make_encoding(spec));
}

void copy_weights(GPT& from, GPT& to) {
  std::stringstream buffer;
  torch::save(from, buffer);
  torch::load(to, buffer);
}

// Everything that determines a trained model's weights.
json training_identity(const Config& c, const RunSpec& run, int64_t max_length, const Corpus& corpus, bool bf16,
                       uint64_t seed) {
  const auto& r = c.resolved;
  json data = r["data"];
  json train = r["train"];
  train.erase("fuse_seeds");  // how the seeds were scheduled, not what they learned
  // Keys that text data leaves at their defaults stay out, so checkpoints from before they existed
  // are still found.
  if (!c.data.is_task()) data.erase("task");
  if (c.data.passkey_mix == 0) data.erase("passkey_mix");
  data.erase("eval_tokens");
  data.erase("cache_dir");
  // The data itself, not just its settings: a retrained tokenizer or changed source files give
  // different token ids, so a checkpoint trained on the old ones must not be reused.
  data["tokenizer_model_hash"] = corpus.summary["tokenizer"].value("model_hash", "");
  data["source_fingerprint"] = corpus.summary.value("source_fingerprint", "");
  // Bump kModelVersion whenever model or encoding arithmetic changes, so old checkpoints are not
  // silently reused for a different model.
  constexpr int kModelVersion = 4;  // 4: FIRE and KERPLE as their references
  return {{"version", kModelVersion},  {"model", r["model"]}, {"train", train},
          {"data", data},              {"seed", seed},
          {"precision", bf16 ? "bf16" : "fp32"},  {"encoding", run.encoding},
          {"encoding_options", run.encoding_options}, {"max_length", max_length}};
}

// The PI recipe: continue a trained model with the run's scaling switched on, at the longer
// length, for a few hundred steps. Returns the tuned copy; the base model is left as it was.
std::pair<GPT, json> finetune(const Config& c, const RunSpec& run, GPT& base, const json& base_identity,
                              const Corpus& corpus, int64_t max_length, uint64_t seed, const fs::path& out,
                              const Compute& compute) {
  const json identity = {{"base", base_identity}, {"finetune", run.entry["finetune"]},
                         {"scaling", run.scaling.method}, {"factor", run.entry["factor"]},
                         {"scaling_options", run.scaling.options}};
  GPT tuned = build_model(c, run, corpus.vocab, max_length, seed);
  copy_weights(base, tuned);
  tuned->encoding().set_scaling(run.scaling);
  TrainJob job = train_job(c, fmt::format("{} finetune seed {}", run.name, seed), compute.bf16, seed);
  job.data_parallel = compute.data_parallel;
  job.train.length = c.eval_length(run.finetune.length);
  job.train.steps = run.finetune.steps;
  job.train.lr = run.finetune.lr > 0 ? run.finetune.lr : c.train.lr * 0.1;
  job.train.warmup_steps = std::min<int64_t>(job.train.steps / 10, 20);
  // The same tokens per step as the base training.
  job.train.batch_size = std::max<int64_t>(1, c.train.batch_size * c.train.length / job.train.length);
  job.checkpoint = (out / "checkpoints" / (run.encoding + "-ft-" + short_hash(identity))).string();
  json stats = train(tuned, corpus.batches, job, compute.device).to_json();
  stats["length"] = job.train.length;
  stats["batch_size"] = job.train.batch_size;
  return {tuned, stats};
}

json evaluate_run(const Config& c, const std::string& name, GPT& model, const Corpus& corpus,
                  const std::vector<int64_t>& lengths, const EvalSample& sample, const Compute& compute) {
  EvalOptions eo;
  eo.stride = c.eval.sliding_stride;
  eo.bucket_width = c.eval_length(c.eval.bucket_width);
  eo.train_length = c.train.length;
  eo.batch_tokens = c.eval.batch_tokens;
  eo.bf16 = compute.bf16;
  eo.device = compute.device;
  json results = json::array();
  for (const auto& protocol : c.eval.protocols)
    for (int64_t T : lengths) {
      eo.protocol = protocol;
      auto t0 = std::chrono::steady_clock::now();
      check_interrupt(fmt::format("while evaluating {}", name));
      EvalResult r = evaluate(model, corpus.held_out, sample, T, eo);
      if (!std::isfinite(r.nll))
        throw NumericError(fmt::format("evaluation at T={} ({}) gave a non-finite nll", T, protocol));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      spdlog::info("[{}] {} T={}: ppl {:.3f} (nll {:.4f} ± {:.4f}, {} tokens, {:.0f} tok/s)", name, protocol, T,
                   r.ppl, r.nll, r.nll_stderr, r.tokens, double(r.windows) * T / secs);
      results.push_back(r.to_json());
    }
  return results;
}

// Every task at every length, on instances drawn from the config's seed (not a training seed).
json evaluate_tasks(const Config& c, const std::string& name, GPT& model, const std::vector<int64_t>& lengths,
                    const Compute& compute) {
  TaskEvalOptions o;
  o.instances = c.data.task.instances;
  o.seed = c.seed;
  o.task = {c.data.task.queries, c.data.task.distractors};
  o.batch_tokens = c.eval.batch_tokens;
  o.bf16 = compute.bf16;
  o.device = compute.device;
  json results = json::array();
  for (const auto& task : c.data.task.names)
    for (int64_t T : lengths) {
      check_interrupt(fmt::format("while evaluating {}", name));
      json r = evaluate_task(model, task, T, o);
      if (!std::isfinite(r["nll"].get<double>()))
        throw NumericError(fmt::format("task {} at T={} gave a non-finite nll", task, T));
      spdlog::info("[{}] {} T={}: exact match {:.3f} (answer tokens {:.3f}, nll {:.3f}, {} instances)", name, task, T,
                   r["accuracy"].get<double>(), r["token_accuracy"].get<double>(), r["nll"].get<double>(), o.instances);
      results.push_back(r);
    }
  return results;
}

json passkey_run(const Config& c, GPT& model, const Corpus& corpus, const std::vector<int64_t>& lengths,
                 const Compute& compute) {
  PasskeyOptions po;
  po.tokenizer = corpus.tokenizer;
  po.trials = c.eval.passkey.trials;
  po.depths = c.eval.passkey.depths;
  po.digits = c.eval.passkey.digits;
  po.seed = c.seed;
  po.bf16 = compute.bf16;
  po.device = compute.device;
  json passkey = json::array();
  for (int64_t T : lengths)
    for (const auto& r : passkey_probe(model, T, po)) passkey.push_back(r.to_json());
  return passkey;
}

std::string duration(double s) { return fmt::format("{:.1f}s", s); }

}  // namespace

namespace {

// "<run> seed <s>": names one (run, seed) unit in shard lists and resumed reports.
std::string unit_name(const std::string& run, uint64_t seed) { return fmt::format("{} seed {}", run, seed); }
// The label in progress lines: the seed is only shown when the config has several.
std::string log_label(const Config& c, const std::string& name, uint64_t seed) {
  return c.training_seeds().size() > 1 ? unit_name(name, seed) : name;
}

// One run of the config with one training seed, and the trained model it needs, named by its identity.
struct Unit {
  const RunSpec* run;
  uint64_t seed;
  json identity;
  std::string key;
};

// Every (run, seed); sharding deals whole trained models of one seed (with all their runs) to
// shards by estimated cost (harness/shard_plan.h). Records the shard in the report.
std::vector<Unit> select_units(const Config& c, const RunOptions& options, int64_t max_length, const Corpus& corpus,
                               bool bf16, json& report) {
  std::vector<Unit> selected;
  const auto plan = plan_shards(c, std::max(options.shard_count, 1));
  if (options.shard_count > int(plan.size()))
    throw InputError(fmt::format("--shard {}/{}: this config trains {} models (counting seeds), so at most {} shards",
                                 options.shard_index, options.shard_count, plan.size(), plan.size()));
  // Seed-major: every run of one seed before the next seed, so the models of a seed are shared.
  for (uint64_t seed : c.training_seeds())
    for (const auto& run : c.runs) {
      json identity = training_identity(c, run, max_length, corpus, bf16, seed);
      std::string key = run.encoding + "-" + short_hash(identity);
      if (options.shard_count == 0 || shard_of(plan, run.name, seed) == options.shard_index)
        selected.push_back({&run, seed, std::move(identity), std::move(key)});
    }
  if (options.shard_count > 0) {
    json names = json::array();
    for (const auto& s : selected) names.push_back(unit_name(s.run->name, s.seed));
    report["shard"] = {{"index", options.shard_index}, {"count", options.shard_count}, {"runs", names}};
    spdlog::info("shard {}/{}: {}", options.shard_index, options.shard_count, names.dump());
  }
  return selected;
}

// Forward tokens one length's evaluation of the sample costs.
int64_t eval_forward_tokens(const Config& c, const EvalSample& sample, const std::string& protocol, int64_t T) {
  const auto plan = protocol == "sliding" ? plan_sliding_with_context(sample.chunk, T, c.eval.sliding_stride)
                                          : plan_windows(protocol, sample.chunk, T, c.eval.sliding_stride);
  return int64_t(sample.starts.size()) * int64_t(plan.starts.size()) * T;
}

// Tokens still to train and to evaluate for these units.
Workload workload(const Config& c, const std::vector<Unit>& units, const fs::path& out, const EvalSample& sample) {
  Workload w;
  std::vector<std::string> counted;
  const int64_t tokens_per_step = c.train.batch_size * c.train.length;
  for (const auto& u : units) {
    if (std::find(counted.begin(), counted.end(), u.key) == counted.end()) {
      counted.push_back(u.key);
      w.train_tokens += (c.train.steps - checkpoint_step((out / "checkpoints" / u.key).string())) * tokens_per_step;
    }
    w.train_tokens += u.run->finetune.steps * tokens_per_step;
    for (int64_t T : c.eval_lengths()) {
      if (c.data.is_task()) {
        w.eval_tokens += int64_t(c.data.task.names.size()) * c.data.task.instances * T;
        continue;
      }
      for (const auto& protocol : c.eval.protocols)
        w.eval_tokens += eval_forward_tokens(c, sample, protocol, T) +
                         c.eval.passkey.trials * int64_t(c.eval.passkey.depths.size()) * T;
    }
  }
  return w;
}

// One run with one seed on its trained model: fine-tune if asked, evaluate, probe.
json run_one(const Config& c, const Unit& unit, GPT model, const json& train_json, const Corpus& corpus,
             const std::vector<int64_t>& lengths, const EvalSample& sample, int64_t max_length, const fs::path& out,
             const Compute& compute) {
  const RunSpec& run = *unit.run;
  json record = {{"seed", unit.seed},   {"status", "complete"},
                 {"checkpoint", unit.key}, {"parameters", model->parameter_count()},
                 {"train", train_json}};
  if (run.finetune.steps > 0) {
    auto [tuned, stats] = finetune(c, run, model, unit.identity, corpus, max_length, unit.seed, out, compute);
    model = tuned;
    record["finetune"] = stats;
  }
  if (!compute.main()) return record;  // other ranks only help train
  model->encoding().set_scaling(run.scaling);
  if (auto notes = model->encoding().notes(); !notes.empty()) record["notes"] = notes;
  const auto eval_start = std::chrono::steady_clock::now();
  const std::string label = log_label(c, run.name, unit.seed);
  record["results"] = c.data.is_task() ? evaluate_tasks(c, label, model, lengths, compute)
                                       : evaluate_run(c, label, model, corpus, lengths, sample, compute);
  if (c.eval.passkey.trials > 0) record["passkey"] = passkey_run(c, model, corpus, lengths, compute);
  record["eval_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
  record["peak_rss_mb"] = peak_rss_mb();  // of the process so far
  return record;
}

// The seed-independent part of a run's entry; per-seed records go under "seeds".
json run_entry(const Config& c, const RunSpec& run, const json& identity) {
  json model = identity;
  model.erase("seed");  // runs with equal "trained_model" differ only by inference-time settings
  json trained = {{"model", model}, {"finetune", run.finetune.steps > 0 ? run.entry["finetune"] : json(nullptr)},
                  {"finetune_scaling", run.finetune.steps > 0 ? json({run.scaling.method, run.entry["factor"], run.scaling.options}) : json(nullptr)}};
  return {{"name", run.name},
          {"status", "incomplete"},
          {"encoding", run.encoding},
          {"scaling", run.scaling.method},
          {"factor", run.entry["factor"]},
          {"scaling_options", run.scaling.options},
          {"encoding_options", run.encoding_options},
          {"train_length", c.train.length},
          {"parameters", 0},  // from the first seed's record
          {"trained_model", short_hash(trained)},
          {"seeds", json::array()},
          {"results", json::array()}};
}

// Trains what is needed and evaluates every unit, writing the report after each one. A seed whose
// training diverges is recorded as failed (and so is its run); the others go on.
void run_units(const Config& c, const std::vector<Unit>& units, const std::map<std::string, json>& finished,
               const Corpus& corpus, const std::vector<int64_t>& lengths, const EvalSample& sample,
               int64_t max_length, const fs::path& out, const Compute& compute, json& report) {
  const std::string report_path = (out / "report.json").string();
  std::map<std::string, GPT> models;  // training identity -> trained model
  std::map<std::string, json> train_stats;
  std::map<std::string, std::string> failed;  // training identity -> why its training failed
  // Run entries in config order, for the runs this invocation has units of.
  std::vector<std::string> order;
  std::map<std::string, json> entries;
  for (const auto& run : c.runs)
    for (const auto& u : units)
      if (u.run == &run) {
        order.push_back(run.name);
        break;
      }
  auto write_runs = [&] {
    report["runs"] = json::array();
    for (const auto& name : order)
      if (entries.count(name)) report["runs"].push_back(entries[name]);
  };
  auto seeds_of = [&](const RunSpec& run) {
    std::vector<uint64_t> seeds;
    for (const auto& u : units)
      if (u.run == &run) seeds.push_back(u.seed);
    return seeds;
  };
  // The training job of one (run, seed), checkpointed under its key.
  auto unit_job = [&](const Unit& u) {
    TrainJob job = train_job(c, log_label(c, u.run->encoding, u.seed), compute.bf16, u.seed);
    job.checkpoint = (out / "checkpoints" / u.key).string();
    job.data_parallel = compute.data_parallel;
    return job;
  };
  // train.fuse_seeds: the untrained seeds of `first`'s run train together as one fused model.
  auto train_seeds_fused = [&](const Unit& first) {
    std::vector<GPT> fresh;
    std::vector<TrainJob> jobs;
    std::vector<const Unit*> todo;
    for (const auto& u : units) {
      if (u.run != first.run || models.count(u.key) || finished.count(unit_name(u.run->name, u.seed))) continue;
      GPT model = build_model(c, *u.run, corpus.vocab, max_length, u.seed);
      TrainJob job = unit_job(u);
      if (TrainStats stats; load_complete_checkpoint(model, job.checkpoint, &stats)) {
        model->to(compute.device);
        models.emplace(u.key, model);
        train_stats[u.key] = stats.to_json();
        continue;
      }
      fresh.push_back(model);
      jobs.push_back(job);
      todo.push_back(&u);
    }
    std::string why;
    if (fresh.size() < 2 || !can_fuse(fresh, &why)) {
      if (fresh.size() >= 2) spdlog::info("[{}] seeds trained one after another: {}", first.run->name, why);
      return;
    }
    std::vector<uint64_t> seeds;
    for (const Unit* u : todo) seeds.push_back(u->seed);
    jobs[0].label = fmt::format("{} seeds {}", first.run->encoding, json(seeds).dump());
    spdlog::info("[{}] training {} seeds fused as one model for {} steps at length {}", first.run->encoding,
                 seeds.size(), c.train.steps, c.train.length);
    try {
      const auto stats = train_fused(fresh, corpus.batches, jobs, compute.device);
      for (size_t i = 0; i < todo.size(); ++i) {
        save_trained(fresh[i], jobs[i], stats[i]);
        models.emplace(todo[i]->key, fresh[i]);
        train_stats[todo[i]->key] = stats[i].to_json();
        train_stats[todo[i]->key]["fused_seeds"] = seeds;
      }
    } catch (const NumericError& e) {
      for (const Unit* u : todo) failed[u->key] = e.what();
      throw;
    }
  };
  for (const auto& unit : units) {
    const RunSpec& run = *unit.run;
    const std::string name = unit_name(run.name, unit.seed);
    if (!entries.count(run.name)) entries[run.name] = run_entry(c, run, unit.identity);
    json& entry = entries[run.name];
    json record;
    if (auto hit = finished.find(name); hit != finished.end()) {
      spdlog::info("[{}] already evaluated in {}; kept", name, report_path);
      record = hit->second;
    } else {
      try {
        if (auto f = failed.find(unit.key); f != failed.end()) throw NumericError(f->second);
        if (c.train.fuse_seeds && !compute.data_parallel && !models.count(unit.key)) train_seeds_fused(unit);
        if (!models.count(unit.key)) {
          GPT model = build_model(c, run, corpus.vocab, max_length, unit.seed);
          TrainJob job = unit_job(unit);
          spdlog::info("[{}] training {} ({} parameters) for {} steps at length {}, seed {}", run.encoding, unit.key,
                       model->parameter_count(), job.train.steps, job.train.length, unit.seed);
          try {
            train_stats[unit.key] = train(model, corpus.batches, job, compute.device).to_json();
          } catch (const NumericError& e) {
            failed[unit.key] = e.what();
            throw;
          }
          models.emplace(unit.key, model);
        }
        record = run_one(c, unit, models.at(unit.key), train_stats.at(unit.key), corpus, lengths, sample, max_length,
                         out, compute);
      } catch (const NumericError& e) {
        spdlog::error("[{}] failed: {}", name, e.what());
        record = {{"seed", unit.seed}, {"status", "failed"}, {"error", e.what()}};
      } catch (const c10::Error& e) {
        const std::string message = error_line(e);
        if (message.find("alloc") == std::string::npos) throw;
        throw ResourceError(fmt::format("run \"{}\" ran out of memory: {} (the estimate at the start was {})", run.name,
                                        message, estimate_memory(c, run, corpus.vocab, max_length).describe()));
      }
    }
    if (record.contains("parameters")) entry["parameters"] = record["parameters"];
    entry["seeds"].push_back(record);
    if (compute.main()) aggregate_run(entry, seeds_of(run));
    write_runs();
    if (compute.main()) write_json_atomic(report_path, report);  // progress survives a kill; status says incomplete
    check_interrupt(fmt::format("after run \"{}\" (report {} is marked incomplete)", name, report_path));
  }
  write_runs();
}

}  // namespace

namespace {

// Fewer documents than this in the evaluation sample: a loud warning (their spread is itself noisy).
constexpr int64_t kFewDocuments = 20;

// What the report says about the scored tokens and how its errors are computed.
json evaluation_summary(const Config& c, const EvalSample& sample, const Corpus& corpus) {
  std::vector<json> sliding_cost;
  for (int64_t T : c.eval_lengths())
    sliding_cost.push_back({{"eval_length", T},
                            {"forward_tokens_per_scored_token",
                             double(eval_forward_tokens(c, sample, "sliding", T)) / double(sample.tokens())}});
  json j = {{"sample", sample.kind},
            {"sample_rule", sample.kind == "stream"
                                ? "chunks drawn without replacement from a grid over the concatenated held-out "
                                  "documents (proportional to document length)"
                                : "documents of at least context + chunk + 1 tokens, each truncated to its first "
                                  "context + chunk tokens (the first context tokens only as sliding-window context), "
                                  "drawn without replacement"},
            {"seed", c.seed},
            {"chunk_tokens", sample.chunk},
            {"context_tokens", sample.context},
            {"chunks", sample.starts.size()},
            {"chunk_starts", sample.starts},
            {"tokens", sample.tokens()},
            {"documents", sample.documents},
            {"eligible_documents", sample.eligible_documents},
            {"held_out_documents", corpus.held_out_documents.size()},
            {"protocols", c.eval.protocols},
            {"sliding_stride", c.eval.sliding_stride},
            {"sliding_cost", sliding_cost},
            {"bucket_width", c.eval_length(c.eval.bucket_width)},
            {"training_seeds", c.training_seeds()},
            {"cluster_unit", "held-out document"},
            {"stderr",
             "mean over seeds; se^2 = se_doc^2 + var_seed/K with se_doc = sqrt(D/(D-1) * sum_d (s_d - n_d*mean)^2) / N "
             "over the seed-averaged per-document sums (n/a below 2 documents) and var_seed the variance of the K "
             "per-seed means (unknown for K = 1); intervals use Student's t at the Satterthwaite degrees of freedom"}};
  if (sample.documents < kFewDocuments)
    j["warning"] = fmt::format("only {} document(s) in the evaluation sample", sample.documents);
  return j;
}

json task_evaluation_summary(const Config& c) {
  return {{"sample", "tasks"},
          {"sample_rule", "instances of exactly T + 1 tokens per task and length, generated from the config's seed "
                          "(training instances come from the training seeds)"},
          {"seed", c.seed},
          {"tasks", c.data.task.names},
          {"instances", c.data.task.instances},
          {"protocols", {"task"}},
          {"training_seeds", c.training_seeds()},
          {"cluster_unit", "task instance"},
          {"scoring", "teacher-forced argmax on the answer tokens only; an instance is correct when every answer "
                      "token is (what greedy decoding of the answer gives)"},
          {"stderr",
           "mean over seeds; se^2 = se_inst^2 + var_seed/K with se_inst the instance-clustered error of the seed-averaged "
           "per-instance sums and var_seed the variance of the K per-seed means (unknown for K = 1); intervals use "
           "Student's t at the Satterthwaite degrees of freedom"}};
}

}  // namespace

json run_experiment(const Config& config, const RunOptions& options) {
  const auto wall_start = std::chrono::steady_clock::now();
  json report_parallel;
  // "auto": CUDA when the libtorch in use has a device, else the CPU. The report's config keeps
  // what was asked; its environment says what ran.
  Config c = config;
  if (c.device == "auto") c.device = torch::cuda::is_available() ? "cuda" : "cpu";
  const torch::Device device(c.device);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw ConfigError("config key \"device\" is \"cuda\" but this libtorch has no CUDA device (use \"auto\" or \"cpu\")");
  const Hardware hardware = detect_hardware(c.device);
  const PrecisionChoice precision = choose_precision(c.precision, c.device, hardware);
  if (precision.emulated) spdlog::warn(precision.reason);
  else spdlog::info(precision.reason);
  const Compute compute{device, precision.effective == "bf16", options.data_parallel};
  const int threads = at::get_num_threads();  // as the command set it (config "threads" or --threads)
  const ThreadLayoutScope thread_scope(choose_thread_layout(threads, compute.bf16, c.device));
  const ThreadLayout& layout = thread_scope.applied();
  spdlog::info("threads: {} cores as {} libtorch thread(s) and {} BLAS thread(s); matrix products: {}", threads,
               layout.intra_op, layout.blas > 0 ? std::to_string(layout.blas) : "default", layout.gemm);
  if (compute.data_parallel) {
    spdlog::info("{}", compute.data_parallel->describe());
    report_parallel = {{"world_size", compute.data_parallel->world()}, {"backend", "gloo"},
                       {"global_batch", c.train.batch_size}};
  }

  const fs::path out(options.out_dir);
  ensure_directory(out.string(), "--out");
  Corpus corpus = load_training_data(c);
  if (c.eval.passkey.trials > 0 && !corpus.tokenizer)
    throw ConfigError("config key \"eval.passkey\": the passkey probe writes its prompts as text, but "
                      "data.path holds pre-tokenized ids with no tokenizer (set eval.passkey.trials to 0)");
  const auto lengths = c.eval_lengths();
  EvalSample sample;  // task data draws its own instances (harness/eval/task_eval.h)
  if (!c.data.is_task()) {
    try {
      // Sliding windows read T - S tokens before each chunk: keep the longest length's share free.
      const bool sliding = std::count(c.eval.protocols.begin(), c.eval.protocols.end(), "sliding") > 0;
      const int64_t context = sliding ? std::max<int64_t>(0, *std::max_element(lengths.begin(), lengths.end()) -
                                                                  c.eval.sliding_stride)
                                      : 0;
      sample = sample_evaluation(c.eval.sample, corpus.held_out.numel(), corpus.held_out_documents, lengths,
                                 c.data.eval_tokens, c.seed, context);
    } catch (const std::invalid_argument& e) {
      throw DataError(fmt::format("data.path \"{}\": {}", c.data.path, e.what()));
    }
    if (sample.documents < kFewDocuments)
      spdlog::warn("the evaluation sample holds {} held-out document(s): document-clustered errors are {} (raise "
                   "data.eval_tokens or data.held_out_fraction, or use a corpus of more documents)",
                   sample.documents, sample.documents < 2 ? "n/a, and claims inconclusive" : "themselves uncertain");
  }
  int64_t max_length = *std::max_element(lengths.begin(), lengths.end());
  for (const auto& run : c.runs)
    max_length = std::max<int64_t>(max_length, c.eval_length(run.finetune.length));
  if (c.data.is_task())
    spdlog::info("data: tasks {} (training instances of {}-{} tokens; scoring {} instances per task at lengths {})",
                 json(c.data.task.names).dump(), std::llround(c.data.task.min_length * double(c.train.length)) + 1,
                 c.train.length + 1, c.data.task.instances, json(lengths).dump());
  else
    spdlog::info("data: {} ({} train / {} held-out tokens); scoring {} chunks of {} tokens from {} of {} held-out "
                 "documents ({} sample) at lengths {}",
                 c.data.path, corpus.train.numel(), corpus.held_out.numel(), sample.starts.size(), sample.chunk,
                 sample.documents, corpus.held_out_documents.size(), sample.kind, json(lengths).dump());

  const std::string report_path = (out / "report.json").string();
  json report = {{"schema", kReportSchema},
                 {"name", c.name},
                 {"status", "incomplete"},
                 {"config", c.resolved},
                 {"environment", environment_info(c.device, precision.to_json(hardware), threads, layout.to_json())},
                 {"data", corpus.summary},
                 {"evaluation", c.data.is_task() ? task_evaluation_summary(c) : evaluation_summary(c, sample, corpus)},
                 {"runs", json::array()}};
  if (!report_parallel.is_null()) report["data_parallel"] = report_parallel;

  // Finished runs of an *interrupted* invocation with the same config, data and evaluation sample
  // are kept, not recomputed.
  // A complete report (e.g. the one committed under results/) is evaluated afresh; an unreadable
  // one is set aside.
  std::map<std::string, json> finished;
  if (fs::exists(report_path)) {
    try {
      json previous = read_report(report_path);
      // Same config and data and the same effective precision ("auto" may resolve differently on
      // another machine): one report never mixes bf16 and fp32 runs.
      const json effective = previous["environment"].value("precision", json::object()).value("effective", json());
      // The same evaluation too: kept seeds must have scored the same sample (a change to how the
      // sample is drawn would otherwise mix two samples in one run's mean).
      if (previous["status"] == "incomplete" && previous["config"] == c.resolved && previous["data"] == corpus.summary &&
          previous.value("evaluation", json()) == report["evaluation"] && effective == precision.effective)
        for (const auto& run : previous["runs"])
          for (const auto& record : run.value("seeds", json::array()))
            if (record.value("status", "") == "complete")
              finished[unit_name(run["name"].get<std::string>(), record["seed"].get<uint64_t>())] = record;
    } catch (const std::exception& e) {
      spdlog::warn("previous report {} is unreadable ({}); evaluating every run afresh", report_path, error_line(e));
    }
  }

  const std::vector<Unit> units = select_units(c, options, max_length, corpus, compute.bf16, report);
  std::vector<Unit> todo;
  std::vector<const RunSpec*> todo_runs;
  for (const auto& u : units)
    if (!finished.count(unit_name(u.run->name, u.seed))) {
      todo.push_back(u);
      todo_runs.push_back(u.run);
    }
  check_before_training(c, corpus, todo_runs, max_length);
  if (!todo.empty()) {
    GPT probe = build_model(c, *todo.front().run, corpus.vocab, max_length, todo.front().seed);
    const double train_tps = calibrate_training(probe, corpus, c, compute.bf16, compute.device);
    const double eval_tps = calibrate_evaluation(probe, c, corpus.vocab, max_length, compute.bf16, compute.device);
    const json estimate = describe_estimate(workload(c, todo, out, sample), train_tps, eval_tps);
    spdlog::info("{}", estimate["line"].get<std::string>());
    report["estimate"] = estimate;
  }

  try {
    run_units(c, units, finished, corpus, lengths, sample, max_length, out, compute, report);
  } catch (const Interrupted&) {
    if (compute.main()) write_json_atomic(report_path, report);  // what finished so far, marked incomplete
    throw;
  }
  report["status"] = "complete";
  json failed_runs = json::array();
  for (const auto& run : report["runs"])
    if (run.value("status", "complete") == "failed") failed_runs.push_back(run["name"]);
  if (!failed_runs.empty()) report["failed_runs"] = failed_runs;
  report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!compute.main()) return report;  // rank 0 writes the report
  publish_report(report, out.string());
  spdlog::info("wrote {} and {} in {}", report_path, (out / "report.md").string(), duration(report["seconds"]));
  return report;
}

}  // namespace lb
