#include "harness/run/experiment.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "harness/core/schema.h"
#include "harness/core/atomic_file.h"
#include "harness/core/errors.h"
#include "harness/data/corpus.h"
#include "harness/model/build.h"
#include "harness/model/precision.h"
#include "harness/report/environment.h"
#include "harness/report/files.h"
#include "harness/report/publish.h"
#include "harness/run/identity.h"
#include "harness/run/precision_probe.h"
#include "harness/run/preflight.h"
#include "harness/run/summary.h"
#include "harness/run/units.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

int use_threads(int requested) {
  const int threads = requested > 0 ? requested : int(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

namespace {

// The evaluation sample: chunks every length scores alike (harness/eval/windows.h). Sliding
// windows read T - S tokens before each chunk: the longest length's share is kept free.
EvalSample draw_sample(const Config& c, const Corpus& corpus, const std::vector<int64_t>& lengths) {
  const bool sliding = std::count(c.eval.protocols.begin(), c.eval.protocols.end(), Protocol::kSliding) > 0;
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  const int64_t context = sliding ? std::max<int64_t>(0, longest - c.eval.sliding_stride) : 0;
  EvalSample sample;
  const ClusterUnit unit = cluster_unit(c.data.cluster_tokens, c.data.document_separator, corpus.held_out_documents,
                                        corpus.held_out.numel(), longest);
  try {
    sample = sample_evaluation(c.eval.sample, corpus.held_out.numel(), unit.starts, lengths, c.data.eval_tokens,
                               c.seed, context);
    sample.unit = unit.name;
    sample.unit_rule = unit.rule;
  } catch (const std::invalid_argument& e) {
    throw DataError(fmt::format("data.path \"{}\": {}", c.data.path, e.what()));
  }
  if (sample.documents < kFewDocuments)
    spdlog::warn("the evaluation sample holds {} held-out document(s): document-clustered errors are {} (raise "
                 "data.eval_tokens or data.held_out_fraction, or use a corpus of more documents)",
                 sample.documents, sample.documents < 2 ? "n/a, and claims inconclusive" : "themselves uncertain");
  return sample;
}

void log_data(const RunContext& ctx) {
  const Config& c = ctx.config;
  if (c.data.is_task())
    spdlog::info("data: tasks {} (training instances of {}-{} tokens; scoring {} instances per task at lengths {})",
                 json(c.data.task.names).dump(), std::llround(c.data.task.min_length * double(c.train.length)) + 1,
                 c.train.length + 1, c.data.task.instances, json(ctx.lengths).dump());
  else
    spdlog::info("data: {} ({} train / {} held-out tokens); scoring {} chunks of {} tokens from {} of {} held-out "
                 "documents ({} sample) at lengths {}",
                 c.data.path, ctx.corpus.train.numel(), ctx.corpus.held_out.numel(), ctx.sample.starts.size(),
                 ctx.sample.chunk, ctx.sample.documents, ctx.corpus.held_out_documents.size(), name_of(ctx.sample.kind),
                 json(ctx.lengths).dump());
}

// Finished units of an *interrupted* invocation with the same config, data, evaluation sample and
// effective precision ("auto" may resolve differently on another machine: one report never mixes
// bf16 and fp32 runs), by unit_name. A complete report (e.g. the one committed under results/) is
// evaluated afresh; an unreadable one is set aside.
std::map<std::string, json> finished_units(const std::string& report_path, const json& report) {
  std::map<std::string, json> finished;
  if (!fs::exists(report_path)) return finished;
  try {
    const json previous = read_report(report_path);
    const auto effective = [](const json& r) {
      return r[key::environment].value(key::precision, json::object()).value(key::effective, json());
    };
    if (previous[key::status] == "incomplete" && previous[key::config] == report[key::config] &&
        previous[key::data] == report[key::data] && previous.value(key::evaluation, json()) == report[key::evaluation] &&
        effective(previous) == effective(report))
      for (const auto& run : previous[key::runs])
        for (const auto& record : run.value(key::seeds, json::array()))
          if (record.value(key::status, "") == "complete")
            finished[unit_name(run[key::name].get<std::string>(), record[key::seed].get<uint64_t>())] = record;
  } catch (const std::exception& e) {
    spdlog::warn("previous report {} is unreadable ({}); evaluating every run afresh", report_path, error_line(e));
  }
  return finished;
}

}  // namespace

json run_experiment(const Config& config, const RunOptions& options) {
  const auto wall_start = std::chrono::steady_clock::now();
  // "auto": CUDA when the libtorch in use has a device, else the CPU. The report's config keeps
  // what was asked; its environment says what ran.
  const torch::Device device = resolve_device(config.device);
  const std::string device_name = device.is_cuda() ? "cuda" : "cpu";
  const Hardware hardware = detect_hardware(device_name);
  const int threads = at::get_num_threads();  // as the command set it (config "threads" or --threads)
  const fs::path out(options.out_dir);
  ensure_directory(out.string(), "--out");
  const Corpus corpus = load_training_data(config);
  if (config.eval.passkey.trials > 0 && !corpus.tokenizer)
    throw ConfigError("config key \"eval.passkey\": the passkey probe writes its prompts as text, but "
                      "data.path holds pre-tokenized ids with no tokenizer (set eval.passkey.trials to 0)");
  RunContext ctx{config, corpus, config.eval_lengths(), {}, 0, out, {}, options.data_parallel};
  ctx.max_length = *std::max_element(ctx.lengths.begin(), ctx.lengths.end());
  for (const auto& run : config.runs) ctx.max_length = std::max(ctx.max_length, config.eval_length(run.finetune.length));

  // Sizes and memory first: nothing (not even the precision measurement) is built for a config
  // that cannot run.
  std::vector<const RunSpec*> all_runs;
  for (const auto& run : config.runs) all_runs.push_back(&run);
  check_before_training(config, corpus, all_runs, ctx.max_length, device);

  // "auto": the faster precision on this machine, measured on the first run's model (and recorded).
  // Under data parallelism rank 0 measures and every rank takes its numbers, so all train alike.
  std::optional<PrecisionRates> rates;
  if (precision_needs_rates(config.precision, device_name, hardware)) {
    rates = PrecisionRates{};
    if (ctx.main())
      rates = precision_rates(config, config.runs.front(), corpus.batches, corpus.vocab, ctx.max_length, hardware, threads);
    if (options.data_parallel) {
      auto shared = torch::tensor({rates->bf16, rates->fp32}, torch::kFloat64);
      options.data_parallel->broadcast({shared});
      rates->bf16 = shared[0].item<double>();
      rates->fp32 = shared[1].item<double>();
      if (!ctx.main()) rates->source = "rank 0's measurement";
    }
  }
  const PrecisionChoice precision = choose_precision(config.precision, device_name, hardware, rates);
  if (precision.emulated) spdlog::warn(precision.reason);
  else spdlog::info(precision.reason);
  ctx.compute = Compute{device, precision.bf16()};
  const Compute& compute = ctx.compute;
  const ThreadLayoutScope thread_scope(choose_thread_layout(threads, compute.bf16, device_name));
  const ThreadLayout& layout = thread_scope.applied();
  spdlog::info("threads: {} cores as {} libtorch thread(s) and {} BLAS thread(s); matrix products: {}", threads,
               layout.intra_op, layout.blas > 0 ? std::to_string(layout.blas) : "default", layout.gemm);
  json report_parallel;
  if (options.data_parallel) {
    spdlog::info("{}", options.data_parallel->describe());
    report_parallel = {{"world_size", options.data_parallel->world()}, {"backend", "gloo"},
                       {"global_batch", config.train.batch_size}};
  }
  if (!config.data.is_task()) ctx.sample = draw_sample(config, corpus, ctx.lengths);
  log_data(ctx);

  const std::string report_path = (out / "report.json").string();
  json report = {{key::schema, kReportSchema},
                 {key::name, config.name},
                 {key::status, "incomplete"},
                 {key::config, config.resolved},
                 {key::environment, environment_info(device_name, precision.to_json(hardware), threads, layout.to_json())},
                 {key::data, corpus.summary},
                 {key::evaluation, config.data.is_task() ? task_evaluation_summary(config)
                                                      : evaluation_summary(config, ctx.sample, corpus)},
                 {key::runs, json::array()}};
  if (!report_parallel.is_null()) report[key::data_parallel] = report_parallel;
  const std::map<std::string, json> finished = finished_units(report_path, report);

  const std::vector<Unit> units = select_units(ctx, options.shard_index, options.shard_count, report);
  std::vector<const Unit*> todo;
  for (const auto& u : units)
    if (!finished.count(unit_name(u.run->name, u.seed))) todo.push_back(&u);
  if (!todo.empty()) {
    GPT probe = build_model(config, *todo.front()->run, corpus.vocab, ctx.max_length, todo.front()->seed);
    const double train_tps = calibrate_training(probe, corpus.batches, config, compute);
    const double eval_tps = calibrate_evaluation(probe, config, corpus.vocab, ctx.max_length, compute);
    std::vector<Unit> pending;
    for (const Unit* u : todo) pending.push_back(*u);
    const json estimate = describe_estimate(workload(ctx, pending), train_tps, eval_tps);
    spdlog::info("{}", estimate["line"].get<std::string>());
    report[key::estimate] = estimate;
  }

  try {
    run_units(ctx, units, finished, report);
  } catch (const Interrupted&) {
    if (ctx.main()) write_json_atomic(report_path, report);  // what finished so far, marked incomplete
    throw;
  }
  report[key::status] = "complete";
  json failed_runs = json::array();
  for (const auto& run : report[key::runs])
    if (run.value(key::status, "complete") == "failed") failed_runs.push_back(run[key::name]);
  if (!failed_runs.empty()) report[key::failed_runs] = failed_runs;
  report[key::seconds] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!ctx.main()) return report;  // rank 0 writes the report
  publish_report(report, out.string());
  spdlog::info("wrote {} and {} in {:.1f}s", report_path, (out / "report.md").string(), report[key::seconds].get<double>());
  return report;
}

}  // namespace lb
