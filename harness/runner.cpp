#include "harness/runner.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "harness/claims.h"
#include "harness/data.h"
#include "harness/evaluator.h"
#include "harness/hash.h"
#include "harness/model.h"
#include "harness/passkey.h"
#include "harness/plots.h"
#include "harness/report.h"
#include "harness/tables.h"
#include "harness/trainer.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

int resolve_threads(int requested) {
  return requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
}

namespace {

std::string short_hash(const json& j) {
  return fmt::format("{:016x}", fnv1a(j.dump())).substr(0, 12);
}

GPT build_model(const Config& c, const RunSpec& run, int64_t vocab, int64_t max_length) {
  EncodingSpec spec;
  spec.name = run.encoding;
  spec.d_model = c.model.d_model;
  spec.heads = c.model.heads;
  spec.train_length = c.train.length;
  spec.max_length = max_length;
  spec.options = run.encoding_options;
  ModelConfig mc = c.model;
  mc.vocab = vocab;
  torch::manual_seed(c.seed);  // the same initialisation for a given config and encoding
  return GPT(mc, make_encoding(spec));
}

void copy_weights(GPT& from, GPT& to) {
  std::stringstream buffer;
  torch::save(from, buffer);
  torch::load(to, buffer);
}

// Everything that determines a trained model's weights.
json training_identity(const Config& c, const RunSpec& run, int64_t max_length, const Corpus& corpus) {
  const auto& r = c.resolved;
  json data = r["data"];
  data.erase("eval_tokens");
  data.erase("cache_dir");
  // The data itself, not just its settings: a retrained tokenizer or changed source files give
  // different token ids, so a checkpoint trained on the old ones must not be reused.
  data["tokenizer_model_hash"] = corpus.summary["tokenizer"].value("model_hash", "");
  data["source_fingerprint"] = corpus.summary.value("source_fingerprint", "");
  // Bump kModelVersion whenever model or encoding arithmetic changes, so old checkpoints are not
  // silently reused for a different model.
  constexpr int kModelVersion = 3;
  return {{"version", kModelVersion},  {"model", r["model"]},       {"train", r["train"]},
          {"data", data},              {"seed", c.seed},
          {"precision", c.precision},  {"encoding", run.encoding},
          {"encoding_options", run.encoding_options}, {"max_length", max_length}};
}

// The PI recipe: continue a trained model with the run's scaling switched on, at the longer
// length, for a few hundred steps. Returns the tuned copy; the base model is left as it was.
std::pair<GPT, json> finetune(const Config& c, const RunSpec& run, GPT& base, const json& base_identity,
                                    const Corpus& corpus, int64_t max_length, const fs::path& out,
                                    torch::Device device) {
  const json identity = {{"base", base_identity}, {"finetune", run.entry["finetune"]},
                         {"scaling", run.scaling.method}, {"factor", run.entry["factor"]},
                         {"scaling_options", run.scaling.options}};
  GPT tuned = build_model(c, run, corpus.vocab, max_length);
  copy_weights(base, tuned);
  tuned->encoding().set_scaling(run.scaling);
  TrainJob job = train_job(c, run.name + " finetune");
  job.train.length = c.eval_length(run.finetune.length);
  job.train.steps = run.finetune.steps;
  job.train.lr = run.finetune.lr > 0 ? run.finetune.lr : c.train.lr * 0.1;
  job.train.warmup_steps = std::min<int64_t>(job.train.steps / 10, 20);
  // The same tokens per step as the base training.
  job.train.batch_size = std::max<int64_t>(1, c.train.batch_size * c.train.length / job.train.length);
  job.checkpoint = (out / "checkpoints" / (run.encoding + "-ft-" + short_hash(identity))).string();
  json stats = train(tuned, corpus.train, job, device).to_json();
  stats["length"] = job.train.length;
  stats["batch_size"] = job.train.batch_size;
  return {tuned, stats};
}

json evaluate_run(const Config& c, const std::string& name, GPT& model, const Corpus& corpus,
                  const std::vector<int64_t>& lengths, int64_t eval_tokens, torch::Device device) {
  EvalOptions eo;
  eo.tokens = eval_tokens;
  eo.stride = c.eval.sliding_stride;
  eo.bucket_width = c.eval_length(c.eval.bucket_width);
  eo.train_length = c.train.length;
  eo.batch_tokens = c.eval.batch_tokens;
  eo.bf16 = c.precision == "bf16";
  eo.device = device;
  json results = json::array();
  for (const auto& protocol : c.eval.protocols)
    for (int64_t T : lengths) {
      eo.protocol = protocol;
      auto t0 = std::chrono::steady_clock::now();
      EvalResult r = evaluate(model, corpus.held_out, T, eo);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      spdlog::info("[{}] {} T={}: ppl {:.3f} (nll {:.4f} ± {:.4f}, {} tokens, {:.0f} tok/s)", name, protocol, T,
                   r.ppl, r.nll, r.nll_stderr, r.tokens, double(r.windows) * T / secs);
      results.push_back(r.to_json());
    }
  return results;
}

json passkey_run(const Config& c, GPT& model, const Corpus& corpus, const std::vector<int64_t>& lengths,
                 torch::Device device) {
  PasskeyOptions po;
  po.tokenizer = corpus.tokenizer;
  po.trials = c.eval.passkey_trials;
  po.depths = c.eval.passkey_depths;
  po.digits = c.eval.passkey_digits;
  po.seed = c.seed;
  po.bf16 = c.precision == "bf16";
  po.device = device;
  json passkey = json::array();
  for (int64_t T : lengths)
    for (const auto& r : passkey_probe(model, T, po)) passkey.push_back(r.to_json());
  return passkey;
}

std::string duration(double s) { return fmt::format("{:.1f}s", s); }

// Claims (unless this is one shard of a config), plots, report.json, report.md and tables.
void finish_report(json& report, const fs::path& out) {
  if (!report.contains("shard") && !report["config"].value("claims", json::array()).empty()) {
    // A claim that cannot be checked must not cost the finished runs their report.
    try {
      report["claims"] = evaluate_claims(report);
      for (const auto& v : report["claims"]) spdlog::info("claim {}", verdict_line(v));
    } catch (const std::exception& e) {
      report["claims_error"] = e.what();
      spdlog::error("claims not checked: {} (fix them and run `lengthbench claims REPORT --config CONFIG`)", e.what());
    }
  }
  report["plots"] = json::array();
  for (const auto& png : write_plots(report, out.string()))
    report["plots"].push_back(fs::path(png).filename().string());
  write_json_atomic((out / "report.json").string(), report);
  write_text_atomic((out / "report.md").string(), report_markdown(report));
  for (const auto& format : {"csv", "latex"}) {
    TableOptions t;
    t.format = format;
    write_text_atomic((out / (std::string("table.") + (t.format == "csv" ? "csv" : "tex"))).string(),
                      render_table({report}, t));
  }
}

}  // namespace

json run_experiment(const Config& c, const RunOptions& options) {
  const auto wall_start = std::chrono::steady_clock::now();
  const int threads = resolve_threads(options.threads >= 0 ? options.threads : c.threads);
  torch::set_num_threads(threads);
  const torch::Device device(c.device);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::runtime_error("config key \"device\" is \"cuda\" but this libtorch has no CUDA device");

  Corpus corpus = load_corpus(c.data);
  if (c.eval.passkey_trials > 0 && !corpus.tokenizer)
    throw std::runtime_error("config key \"eval.passkey\": the passkey probe writes its prompts as text, but "
                             "data.path holds pre-tokenized ids with no tokenizer (set eval.passkey.trials to 0)");
  const auto lengths = c.eval_lengths();
  const int64_t eval_tokens = shared_eval_tokens(corpus.held_out.numel(), c.data.eval_tokens, lengths);
  int64_t max_length = *std::max_element(lengths.begin(), lengths.end());
  for (const auto& run : c.runs)
    max_length = std::max<int64_t>(max_length, c.eval_length(run.finetune.length));
  spdlog::info("data: {} ({} train / {} held-out tokens); scoring {} held-out tokens at lengths {}",
               c.data.path, corpus.train.numel(), corpus.held_out.numel(), eval_tokens, json(lengths).dump());

  const fs::path out(options.out_dir);
  fs::create_directories(out);
  const std::string report_path = (out / "report.json").string();

  json report = {{"schema", kReportSchema},
                 {"name", c.name},
                 {"status", "incomplete"},
                 {"config", c.resolved},
                 {"environment", environment_info(c.device, c.precision)},
                 {"data", corpus.summary},
                 {"evaluation",
                  {{"tokens", eval_tokens},
                   {"protocols", c.eval.protocols},
                   {"sliding_stride", c.eval.sliding_stride},
                   {"bucket_width", c.eval_length(c.eval.bucket_width)},
                   {"stderr", "clustered by window: sqrt(W/(W-1) * sum_w (s_w - n_w*mean)^2) / N"}}},
                 {"runs", json::array()}};

  // Finished runs of an *interrupted* invocation with the same config are kept, not recomputed.
  // A complete report (e.g. the one committed under results/) is evaluated afresh.
  std::map<std::string, json> finished;
  if (fs::exists(report_path)) {
    try {
      json previous = read_report(report_path);
      if (previous["status"] == "incomplete" && previous["config"] == c.resolved && previous["data"] == corpus.summary)
        for (const auto& run : previous["runs"]) finished[run["name"]] = run;
    } catch (const std::exception&) {
    }
  }

  // Each run's trained model, named by its identity; sharding deals whole trained models (with
  // all their runs) to shards, in config order.
  struct Selected {
    const RunSpec* run;
    json identity;
    std::string key;
  };
  std::vector<Selected> selected;
  {
    std::vector<std::string> groups;
    for (const auto& run : c.runs) {
      json identity = training_identity(c, run, max_length, corpus);
      std::string key = run.encoding + "-" + short_hash(identity);
      auto g = std::find(groups.begin(), groups.end(), key);
      const size_t group = size_t(g - groups.begin());
      if (g == groups.end()) groups.push_back(key);
      if (options.shard_count == 0 || int(group % size_t(options.shard_count)) == options.shard_index - 1)
        selected.push_back({&run, std::move(identity), std::move(key)});
    }
    if (options.shard_count > 0) {
      if (options.shard_count > int(groups.size()))
        throw std::runtime_error(fmt::format("--shard {}/{}: this config trains {} models, so at most {} shards",
                                             options.shard_index, options.shard_count, groups.size(), groups.size()));
      json names = json::array();
      for (const auto& s : selected) names.push_back(s.run->name);
      report["shard"] = {{"index", options.shard_index}, {"count", options.shard_count}, {"runs", names}};
      spdlog::info("shard {}/{}: {}", options.shard_index, options.shard_count, names.dump());
    }
  }

  std::map<std::string, GPT> models;  // training identity -> trained model
  std::map<std::string, TrainStats> train_stats;
  for (const auto& [run_ptr, identity, key] : selected) {
    const RunSpec& run = *run_ptr;
    if (auto hit = finished.find(run.name); hit != finished.end()) {
      spdlog::info("[{}] already evaluated in {}; kept", run.name, report_path);
      report["runs"].push_back(hit->second);
      continue;
    }
    if (!models.count(key)) {
      GPT model = build_model(c, run, corpus.vocab, max_length);
      TrainJob job = train_job(c, run.encoding);
      job.checkpoint = (out / "checkpoints" / key).string();
      spdlog::info("[{}] training {} ({} parameters) for {} steps at length {}", run.encoding, key,
                   model->parameter_count(), job.train.steps, job.train.length);
      train_stats[key] = train(model, corpus.train, job, device);
      models.emplace(key, model);
    }
    GPT model = models.at(key);
    json run_json = {{"name", run.name},
                     {"encoding", run.encoding},
                     {"scaling", run.scaling.method},
                     {"factor", run.entry["factor"]},
                     {"scaling_options", run.scaling.options},
                     {"encoding_options", run.encoding_options},
                     {"train_length", c.train.length},
                     {"parameters", model->parameter_count()},
                     {"checkpoint", key},
                     {"train", train_stats.at(key).to_json()}};
    if (run.finetune.steps > 0) {
      auto [tuned, stats] = finetune(c, run, model, identity, corpus, max_length, out, device);
      model = tuned;
      run_json["finetune"] = stats;
    }
    model->encoding().set_scaling(run.scaling);
    if (auto notes = model->encoding().notes(); !notes.empty()) run_json["notes"] = notes;

    const auto eval_start = std::chrono::steady_clock::now();
    run_json["results"] = evaluate_run(c, run.name, model, corpus, lengths, eval_tokens, device);
    if (c.eval.passkey_trials > 0) run_json["passkey"] = passkey_run(c, model, corpus, lengths, device);
    run_json["eval_seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    run_json["peak_rss_mb"] = peak_rss_mb();  // of the process so far
    report["runs"].push_back(run_json);
    write_json_atomic(report_path, report);  // progress survives a kill; status says incomplete
  }
  report["status"] = "complete";
  report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  finish_report(report, out);
  spdlog::info("wrote {} and {} in {}", report_path, (out / "report.md").string(), duration(report["seconds"]));
  return report;
}

json merge_reports(const std::vector<json>& shards, const std::string& out_dir) {
  if (shards.empty()) throw std::invalid_argument("merge needs the shard reports");
  const json& first = shards.front();
  if (!first.contains("shard"))
    throw std::invalid_argument("merge joins shard reports (written by `run --shard i/N`); the first is not one");
  const int count = first["shard"]["count"];
  std::vector<int> seen(count + 1, 0);
  std::map<std::string, json> runs;
  json merged = first;
  merged.erase("shard");
  merged.erase("claims");
  merged["shards"] = json::array();
  double seconds = 0;
  for (const auto& shard : shards) {
    if (!shard.contains("shard") || shard["shard"]["count"] != count)
      throw std::invalid_argument(fmt::format("merge: every report must be a shard of the same {}-way split", count));
    const int index = shard["shard"]["index"];
    if (shard["config"] != first["config"] || shard["data"] != first["data"])
      throw std::invalid_argument(fmt::format("merge: shard {} ran a different config or data than shard {}", index,
                                              first["shard"]["index"].get<int>()));
    if (shard.value("status", "") != "complete")
      throw std::invalid_argument(fmt::format("merge: shard {}/{} is incomplete; finish it first", index, count));
    if (++seen.at(size_t(index)) > 1) throw std::invalid_argument(fmt::format("merge: shard {}/{} given twice", index, count));
    for (const auto& run : shard["runs"]) runs[run["name"]] = run;
    seconds += shard.value("seconds", 0.0);
    merged["shards"].push_back({{"index", index}, {"environment", shard["environment"]}, {"seconds", shard["seconds"]}});
  }
  for (int i = 1; i <= count; ++i)
    if (!seen[size_t(i)]) throw std::invalid_argument(fmt::format("merge: shard {}/{} is missing", i, count));
  merged["runs"] = json::array();
  for (const auto& entry : first["config"]["runs"]) {
    const std::string name = entry.value("name", "");
    auto run = runs.find(name);
    if (run == runs.end()) throw std::invalid_argument(fmt::format("merge: no shard holds run \"{}\"", name));
    merged["runs"].push_back(run->second);
  }
  merged["status"] = "complete";
  merged["seconds"] = seconds;  // compute time summed over shards
  const fs::path out(out_dir);
  fs::create_directories(out);
  finish_report(merged, out);
  spdlog::info("merged {} shards into {}", count, (out / "report.json").string());
  return merged;
}

std::string report_markdown(const json& report) {
  const auto& cfg = report.at("config");
  const auto& env = report.at("environment");
  std::string md = fmt::format("# {}\n\n", report.at("name").get<std::string>());
  if (const std::string description = cfg.value("description", ""); !description.empty()) md += description + "\n\n";
  if (report.value("status", "") != "complete") md += "**Incomplete run: not every run finished.**\n\n";
  md += fmt::format(
      "Model: {} layers, d_model {}, {} heads; trained at L = {} for {} steps (batch {}), {}. "
      "Data: `{}` ({} held-out tokens scored at every length).\n\n",
      cfg["model"]["layers"].get<int>(), cfg["model"]["d_model"].get<int>(), cfg["model"]["heads"].get<int>(),
      cfg["train"]["length"].get<int>(), cfg["train"]["steps"].get<int>(), cfg["train"]["batch_size"].get<int>(),
      cfg["precision"].get<std::string>(), cfg["data"]["path"].get<std::string>(),
      report.at("evaluation").at("tokens").get<int64_t>());
  for (const auto& protocol : report.at("evaluation").at("protocols")) {
    TableOptions t;
    t.protocol = protocol;
    md += fmt::format("## Perplexity, {} windows{}\n\nppl ± standard error (clustered by window); best per column in bold.\n\n",
                      protocol.get<std::string>(),
                      protocol == "sliding" ? fmt::format(" (stride {})", report["evaluation"]["sliding_stride"].get<int>()) : "");
    md += render_table({report}, t) + "\n";
  }
  if (report.contains("claims")) {
    md += "## Claims\n\nd = nll(left) − nll(right) per token ± its standard error, paired over the same held-out "
          "tokens (clustered by the windows common to both sides); held when all of d ± 2se satisfies the claim, not "
          "held when none of it does, inconclusive otherwise.\n\n"
          "| claim | check | d ± se | verdict |\n|---|---|---:|---|\n";
    for (const auto& v : report["claims"]) {
      auto side = [](const json& s) { return fmt::format("{} @{}L", s["run"].get<std::string>(), s["length"].dump()); };
      std::string check = side(v["left"]) + " " + (v["op"] == "~" ? "≈" : v["op"].get<std::string>()) + " " + side(v["right"]);
      if (v["op"] == "~") check += fmt::format(" (±{} nats)", v["tolerance"].dump());
      else check += fmt::format(" (by > {} nats)", v.value("margin", json(0.01)).dump());
      if (v["protocol"] != "nonoverlapping") check += ", " + v["protocol"].get<std::string>();
      md += fmt::format("| {} | {} | {:+.3f} ± {:.3f} | **{}** |\n", v["claim"].get<std::string>(), check,
                        v["difference"].get<double>(), v["stderr"].get<double>(), v["verdict"].get<std::string>());
    }
    md += "\n";
  }
  md += "## Runs\n\n| run | encoding | scaling | factor | params | train loss | train tok/s | train time | peak RSS |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto& run : report.at("runs")) {
    const auto& f = run["factor"];
    md += fmt::format("| {} | {} | {} | {} | {} | {:.3f} | {:.0f} | {:.0f}s | {:.0f} MB |\n", run["name"].get<std::string>(),
                      run["encoding"].get<std::string>(), run["scaling"].get<std::string>(),
                      f.is_null() ? "–" : f.is_string() ? f.get<std::string>() : f.dump(),
                      run["parameters"].get<int64_t>(), run["train"]["final_loss"].get<double>(),
                      run["train"]["tokens_per_second"].get<double>(), run["train"]["seconds"].get<double>(),
                      run.value("peak_rss_mb", 0.0));
  }
  bool any_passkey = false;
  for (const auto& run : report.at("runs")) any_passkey = any_passkey || run.contains("passkey");
  if (any_passkey) {
    md += "\n## Passkey retrieval\n\nRetrieved / trials (greedy, every digit right), by window length T and depth of the key.\n\n";
    const auto& first = report["runs"][0]["passkey"];
    md += "| run |";
    std::string rule = "|---|";
    for (const auto& r : first) {
      md += fmt::format(" T={} @{:g} |", r["eval_length"].get<int64_t>(), r["depth"].get<double>());
      rule += "---:|";
    }
    md += "\n" + rule + "\n";
    for (const auto& run : report.at("runs")) {
      md += "| " + run["name"].get<std::string>() + " |";
      for (const auto& r : run.value("passkey", json::array()))
        md += fmt::format(" {}/{} |", r["retrieved"].get<int64_t>(), r["trials"].get<int64_t>());
      md += "\n";
    }
  }
  std::string notes;
  for (const auto& run : report.at("runs"))
    if (run.contains("notes")) notes += fmt::format("- {}: {}\n", run["name"].get<std::string>(), run["notes"].get<std::string>());
  if (!notes.empty()) md += "\nNotes:\n" + notes;
  if (report.contains("plots"))
    for (const auto& png : report["plots"]) md += fmt::format("\n![{0}]({0})\n", png.get<std::string>());
  md += fmt::format("\nEnvironment: libtorch {}, {} threads, {}, BLAS {}, CPU {}, host {}, commit {}.\n",
                    env["libtorch"].get<std::string>(), env["threads"].get<int>(), env["device"].get<std::string>(),
                    env["blas"].get<std::string>(), env["cpu"].get<std::string>(), env["host"].get<std::string>(),
                    env["git_commit"].get<std::string>());
  return md;
}

}  // namespace lb
