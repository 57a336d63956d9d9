#include "harness/run/units.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <sstream>

#include "harness/core/schema.h"
#include "harness/core/atomic_file.h"
#include "harness/core/errors.h"
#include "harness/core/statistics.h"
#include "harness/eval/suite.h"
#include "harness/model/build.h"
#include "harness/model/fused.h"
#include "harness/report/environment.h"
#include "harness/run/identity.h"
#include "harness/run/shard_plan.h"
#include "harness/train/checkpoint.h"
#include "harness/train/fused_trainer.h"
#include "harness/train/trainer.h"

namespace lb {

using nlohmann::json;

std::vector<Unit> select_units(const RunContext& ctx, int shard_index, int shard_count, json& report) {
  const Config& c = ctx.config;
  std::vector<Unit> selected;
  const auto plan = plan_shards(c, std::max(shard_count, 1));
  if (shard_count > int(plan.size()))
    throw InputError(fmt::format("--shard {}/{}: this config trains {} models (counting seeds), so at most {} shards",
                                 shard_index, shard_count, plan.size(), plan.size()));
  // Seed-major: every run of one seed before the next seed, so the models of a seed are shared.
  for (uint64_t seed : c.training_seeds())
    for (const auto& run : c.runs) {
      json identity = training_identity(c, run, ctx.max_length, ctx.corpus, ctx.compute.bf16, seed);
      std::string key = run.encoding + "-" + short_hash(identity);
      if (shard_count == 0 || shard_of(plan, run.name, seed) == shard_index)
        selected.push_back({&run, seed, std::move(identity), std::move(key)});
    }
  if (shard_count > 0) {
    json names = json::array();
    for (const auto& s : selected) names.push_back(unit_name(s.run->name, s.seed));
    report[key::shard] = {{key::index, shard_index}, {key::count, shard_count}, {key::runs, names}};
    spdlog::info("shard {}/{}: {}", shard_index, shard_count, names.dump());
  }
  return selected;
}

Workload workload(const RunContext& ctx, const std::vector<Unit>& units) {
  const Config& c = ctx.config;
  Workload w;
  std::vector<std::string> counted;
  const int64_t tokens_per_step = c.train.batch_size * c.train.length;
  for (const auto& u : units) {
    if (std::find(counted.begin(), counted.end(), u.key) == counted.end()) {
      counted.push_back(u.key);
      w.train_tokens += (c.train.steps - checkpoint_step(ctx.checkpoint(u.key), u.identity)) * tokens_per_step;
    }
    w.train_tokens += u.run->finetune.steps * tokens_per_step;
    for (int64_t T : ctx.lengths) {
      if (c.data.is_task()) {
        w.eval_tokens += int64_t(c.data.task.names.size()) * c.data.task.instances * T;
        continue;
      }
      for (Protocol protocol : c.eval.protocols)
        w.eval_tokens += eval_forward_tokens(c, ctx.sample, protocol, T) +
                         c.eval.passkey.trials * int64_t(c.eval.passkey.depths.size()) * T;
    }
  }
  return w;
}

namespace {

// The label in progress lines: the seed is only shown when the config has several.
std::string log_label(const Config& c, const std::string& name, uint64_t seed) {
  return c.training_seeds().size() > 1 ? unit_name(name, seed) : name;
}

void copy_weights(GPT& from, GPT& to) {
  std::stringstream buffer;
  torch::save(from, buffer);
  torch::load(to, buffer);
}

// Out of memory, as libtorch reports it: its OOM error type, or (libtorch 1.13's CPU allocator,
// which throws a plain c10::Error) the allocator's own message.
bool out_of_memory(const c10::Error& e) {
  return dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
         error_line(e).rfind("DefaultCPUAllocator: can't allocate memory", 0) == 0;
}

// The seed-independent part of a run's entry; per-seed records go under "seeds".
json run_entry(const Config& c, const RunSpec& run, const json& identity) {
  json entry = {{key::name, run.name},
          {key::status, "incomplete"},
          {key::encoding, run.encoding},
          {key::scaling, run.scaling.method},
          {key::factor, run.entry[key::factor]},
          {key::scaling_options, run.scaling.options},
          {key::encoding_options, run.encoding_options},
          {key::train_length, c.train.length},
          {key::parameters, 0},  // from the first seed's record
          {key::trained_model, trained_model_id(identity, run, c.training_seeds())},
          {key::seeds, json::array()},
          {key::results, json::array()}};
  if (run.attention != AttentionKind::kSoftmax) entry[key::attention] = name_of(run.attention);
  return entry;
}

// Trains each model once and evaluates every unit on it.
class Scheduler {
 public:
  Scheduler(const RunContext& ctx, const std::vector<Unit>& units, const std::map<std::string, json>& finished)
      : ctx_(ctx), c_(ctx.config), units_(units), finished_(finished) {}

  // Fine-tunes (if asked), evaluates and probes one unit: its record for the report.
  json run_unit(const Unit& unit) {
    if (auto f = failed_.find(unit.key); f != failed_.end()) throw NumericError(f->second);
    if (c_.train.fuse_seeds && !ctx_.data_parallel && !models_.count(unit.key)) train_seeds_fused(unit);
    if (!models_.count(unit.key)) train_solo(unit);
    GPT model = models_.at(unit.key);
    const RunSpec& run = *unit.run;
    json record = {{key::seed, unit.seed},
                   {key::status, "complete"},
                   {key::checkpoint, unit.key},
                   {key::parameters, model->parameter_count()},
                   {key::train, train_stats_.at(unit.key)}};
    if (run.finetune.steps > 0) {
      auto [tuned, stats] = finetune(unit, model);
      model = tuned;
      record[key::finetune] = stats;
    }
    if (!ctx_.main()) return record;  // other ranks only help train
    model->encoding().set_scaling(run.scaling);
    model->encoding().set_inference(run.inference);
    if (auto notes = model->encoding().notes(); !notes.empty()) record[key::notes] = notes;
    const auto eval_start = std::chrono::steady_clock::now();
    const json evaluated = evaluate_model(c_, log_label(c_, run.name, unit.seed), model, ctx_.corpus, ctx_.lengths,
                                          ctx_.sample, ctx_.compute);
    for (const auto& [key, value] : evaluated.items()) record[key] = value;
    record[key::eval_seconds] = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    record[key::peak_rss_mb] = peak_rss_mb();  // of the process so far
    return record;
  }

 private:
  GPT fresh_model(const Unit& u) const {
    return build_model(c_, *u.run, ctx_.corpus.vocab, ctx_.max_length, u.seed);
  }

  // The training job of one (run, seed), checkpointed under its key.
  TrainJob unit_job(const Unit& u) const {
    TrainJob job = train_job(c_, log_label(c_, u.run->encoding, u.seed), ctx_.compute, u.seed);
    job.checkpoint = ctx_.checkpoint(u.key);
    job.identity = u.identity;
    job.data_parallel = ctx_.data_parallel;
    return job;
  }

  void train_solo(const Unit& unit) {
    GPT model = fresh_model(unit);
    const TrainJob job = unit_job(unit);
    spdlog::info("[{}] training {} ({} parameters) for {} steps at length {}, seed {}", unit.run->encoding, unit.key,
                 model->parameter_count(), job.train.steps, job.train.length, unit.seed);
    try {
      train_stats_[unit.key] = train(model, ctx_.corpus.batches, job, ctx_.compute.device).to_json();
    } catch (const NumericError& e) {
      failed_[unit.key] = e.what();
      throw;
    }
    models_.emplace(unit.key, model);
  }

  // train.fuse_seeds: the untrained seeds of `first`'s run train together as one fused model.
  void train_seeds_fused(const Unit& first) {
    std::vector<GPT> fresh;
    std::vector<TrainJob> jobs;
    std::vector<const Unit*> todo;
    for (const auto& u : units_) {
      if (u.run != first.run || models_.count(u.key) || finished_.count(unit_name(u.run->name, u.seed))) continue;
      GPT model = fresh_model(u);
      TrainJob job = unit_job(u);
      if (TrainStats stats; load_complete_checkpoint(model, job, &stats)) {
        model->to(ctx_.compute.device);
        models_.emplace(u.key, model);
        train_stats_[u.key] = stats.to_json();
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
                 seeds.size(), c_.train.steps, c_.train.length);
    try {
      const auto stats = train_fused(fresh, ctx_.corpus.batches, jobs, ctx_.compute.device);
      for (size_t i = 0; i < todo.size(); ++i) {
        save_trained(fresh[i], jobs[i], stats[i]);
        models_.emplace(todo[i]->key, fresh[i]);
        train_stats_[todo[i]->key] = stats[i].to_json();
        train_stats_[todo[i]->key][key::fused_seeds] = seeds;
      }
    } catch (const NumericError& e) {
      for (const Unit* u : todo) failed_[u->key] = e.what();
      throw;
    }
  }

  // The PI recipe: continue a trained model with the run's scaling switched on, at the longer
  // length, for a few hundred steps. Returns the tuned copy; the base model is left as it was.
  std::pair<GPT, json> finetune(const Unit& unit, GPT& base) const {
    const RunSpec& run = *unit.run;
    const json identity = finetune_identity(unit.identity, run);
    GPT tuned = fresh_model(unit);
    copy_weights(base, tuned);
    TrainJob job = finetune_job(c_, run, fmt::format("{} finetune seed {}", run.name, unit.seed), ctx_.compute, unit.seed);
    if (run.finetune.extend != "none")  // an absolute table's rows grown to the target length first
      tuned->encoding().extend_positions(c_.train.length, job.train.length, run.finetune.extend);
    tuned->encoding().set_scaling(run.scaling);
    job.data_parallel = ctx_.data_parallel;
    job.checkpoint = ctx_.checkpoint(run.encoding + "-ft-" + short_hash(identity));
    job.identity = identity;
    json stats = train(tuned, ctx_.corpus.batches, job, ctx_.compute.device).to_json();
    stats[key::length] = job.train.length;
    stats[key::batch_size] = job.train.batch_size;
    return {tuned, stats};
  }

  const RunContext& ctx_;
  const Config& c_;
  const std::vector<Unit>& units_;
  const std::map<std::string, json>& finished_;
  std::map<std::string, GPT> models_;  // unit key -> trained model
  std::map<std::string, json> train_stats_;
  std::map<std::string, std::string> failed_;  // unit key -> why its training failed
};

}  // namespace

void run_units(const RunContext& ctx, const std::vector<Unit>& units, const std::map<std::string, json>& finished,
               json& report) {
  const Config& c = ctx.config;
  const std::string report_path = (ctx.out / "report.json").string();
  Scheduler scheduler(ctx, units, finished);
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
    report[key::runs] = json::array();
    for (const auto& name : order)
      if (entries.count(name)) report[key::runs].push_back(entries[name]);
  };
  auto seeds_of = [&](const RunSpec& run) {
    std::vector<uint64_t> seeds;
    for (const auto& u : units)
      if (u.run == &run) seeds.push_back(u.seed);
    return seeds;
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
        record = scheduler.run_unit(unit);
      } catch (const NumericError& e) {
        spdlog::error("[{}] failed: {}", name, e.what());
        record = {{key::seed, unit.seed}, {key::status, "failed"}, {key::error, e.what()}};
      } catch (const c10::Error& e) {
        if (!out_of_memory(e)) throw;
        throw ResourceError(fmt::format("run \"{}\" ran out of memory: {} (the estimate at the start was {})", run.name,
                                        error_line(e),
                                        estimate_memory(c, run, ctx.corpus.vocab, ctx.max_length).describe()));
      }
    }
    if (record.contains(key::parameters)) entry[key::parameters] = record[key::parameters];
    entry[key::seeds].push_back(record);
    if (ctx.main()) aggregate_run(entry, seeds_of(run));
    write_runs();
    if (ctx.main()) write_json_atomic(report_path, report);  // progress survives a kill; status says incomplete
    check_interrupt(fmt::format("after run \"{}\" (report {} is marked incomplete)", name, report_path));
  }
  write_runs();
}

}  // namespace lb
