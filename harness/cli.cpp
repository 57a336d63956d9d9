#include "harness/cli.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <filesystem>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <map>
#include <sstream>

#include "encodings/encoding.h"
#include "encodings/rope_scaling.h"
#include "harness/bench.h"
#include "harness/report/claims.h"
#include "harness/config.h"
#include "harness/data/tasks.h"
#include "harness/data/corpus.h"
#include "harness/model/precision.h"
#include "harness/report/plots.h"
#include "harness/report/files.h"
#include "harness/report/markdown.h"
#include "harness/report/publish.h"
#include "harness/runner.h"
#include "harness/shard_plan.h"
#include "harness/report/tables.h"

namespace lb {

using nlohmann::json;

namespace {

constexpr const char* kUsage = R"(usage:
  lengthbench run CONFIG [--set key.path=value]... [--out DIR] [--threads N] [--shard i/N|auto]
                         [--shard-plan N]   (print how N shards would split the config, and stop)
  lengthbench merge SHARD_REPORT... [--out DIR]   (join the reports of `run --shard i/N`)
  lengthbench tokenize CONFIG [--set key.path=value]...   (build the token cache, train the
                              SentencePiece model if asked, and print the cache manifest)
  lengthbench table REPORT... [--format markdown|csv|latex] [--protocol nonoverlapping|sliding|task]
                              [--metric ppl|nll|last_l_ppl|accuracy|token_accuracy] [--baseline RUN]
  lengthbench inspect ENCODING [--scaling S] [--factor F|auto] [--head-dim D] [--heads H]
                               [--train-length L] [--eval-length T] [--base B]
                               [--options JSON]  (encoding options, e.g. '{"width": 3, "sinks": 1}')
  lengthbench plot REPORT [--out DIR]     (PNG plots; default: next to the report)
  lengthbench claims REPORT [--config CONFIG]   (re-check the claims, or CONFIG's claims, against
                              a finished report; rewrites its report.json and report.md)
  lengthbench list
  lengthbench bench [--layers N] [--d-model D] [--heads H] [--length L] [--batch B] [--steps S]
                    [--threads N] [--precision auto|bf16|fp32] [--encoding E] [--gemm-peak] [--fused-seeds N]
                    [--gemm onednn|libtorch]
)";

struct UsageError : InputError {
  using InputError::InputError;
};

// Splits argv into positionals and --flag value pairs (repeatable flags keep every value).
struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> flags;

  Args(int argc, char** argv, int first, const std::vector<std::string>& allowed) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        positional.push_back(a);
        continue;
      }
      std::string name = a.substr(2), value;
      if (auto eq = name.find('='); eq != std::string::npos && name != "set") {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else {
        if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value", a));
        value = argv[++i];
      }
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        throw UsageError(fmt::format("unknown option --{}", name));
      flags.emplace(name, value);
    }
  }
  std::optional<std::string> get(const std::string& name) const {
    auto it = flags.find(name);
    return it == flags.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::vector<std::string> all(const std::string& name) const {
    std::vector<std::string> out;
    for (auto [it, end] = flags.equal_range(name); it != end; ++it) out.push_back(it->second);
    return out;
  }
  int64_t integer(const std::string& name, int64_t fallback) const {
    auto v = get(name);
    if (!v) return fallback;
    try {
      size_t used = 0;
      int64_t n = std::stoll(*v, &used);
      if (used == v->size() && n > 0) return n;
    } catch (...) {
    }
    throw UsageError(fmt::format("--{} must be a positive integer, got \"{}\"", name, *v));
  }
  double number(const std::string& name) const {
    try {
      size_t used = 0;
      double x = std::stod(*get(name), &used);
      if (used == get(name)->size()) return x;
    } catch (...) {
    }
    throw UsageError(fmt::format("--{} must be a number, got \"{}\"", name, *get(name)));
  }
};

// "i/N", or "auto": this task of a Slurm job array.
std::pair<int, int> parse_shard(const std::string& text) {
  int index = 0, count = 0;
  if (text == "auto") {
    std::tie(index, count) = slurm_array_shard();
  } else {
    char slash = 0;
    std::istringstream in(text);
    if (!(in >> index >> slash >> count) || slash != '/' || !in.eof())
      throw UsageError(fmt::format("--shard must be i/N or auto, got \"{}\"", text));
  }
  if (count < 1 || index < 1 || index > count)
    throw UsageError(fmt::format("--shard {}/{}: need 1 <= i <= N", index, count));
  return {index, count};
}

int cmd_run(int argc, char** argv) {
  Args args(argc, argv, 2, {"set", "out", "threads", "shard", "shard-plan"});
  if (args.positional.size() != 1) throw UsageError("run takes one CONFIG file");
  Config config = load_config(args.positional[0], args.all("set"));
  if (args.get("shard-plan")) {
    const int shards = int(args.integer("shard-plan", 1));
    std::cout << describe_plan(plan_shards(config, shards), shards);
    return 0;
  }
  RunOptions options;
  std::string default_out = "results/" + config.name;
  if (auto shard = args.get("shard")) {
    std::tie(options.shard_index, options.shard_count) = parse_shard(*shard);
    default_out += fmt::format("/shard-{}-of-{}", options.shard_index, options.shard_count);
  }
  options.out_dir = args.get("out").value_or(default_out);
  use_threads(args.get("threads") ? int(args.integer("threads", 1)) : config.threads);
  install_interrupt_handler();  // Ctrl-C: checkpoint, incomplete report, exit 130
  options.data_parallel = data_parallel_from_env();
  if (options.data_parallel && !options.data_parallel->is_main())
    spdlog::set_pattern(fmt::format("%H:%M:%S [rank {}] %^%l%$ %v", options.data_parallel->rank()));
  json report = run_experiment(config, options);
  if (options.data_parallel && !options.data_parallel->is_main()) return 0;  // rank 0 reports
  std::cout << "\n" << render_table({report}, default_table_options(report));
  if (report.contains("failed_runs")) {
    std::cerr << fmt::format("error: {} run(s) failed: {} (see {}/report.md)\n", report["failed_runs"].size(),
                             report["failed_runs"].dump(), options.out_dir);
    return 1;
  }
  if (report.contains("claims_error")) {
    std::cerr << "error: claims not checked: " << report["claims_error"].get<std::string>() << "\n";
    return 1;
  }
  return 0;
}

int cmd_tokenize(int argc, char** argv) {
  Args args(argc, argv, 2, {"set", "threads"});
  if (args.positional.size() != 1) throw UsageError("tokenize takes one CONFIG file");
  Config config = load_config(args.positional[0], args.all("set"));
  use_threads(args.get("threads") ? int(args.integer("threads", 1)) : config.threads);
  const Corpus corpus = load_corpus(config.data);
  std::cout << corpus.summary.dump(2) << "\n";
  return 0;
}

int cmd_table(int argc, char** argv) {
  Args args(argc, argv, 2, {"format", "protocol", "metric", "baseline"});
  if (args.positional.empty()) throw UsageError("table needs at least one REPORT (report.json)");
  TableOptions t;
  t.format = args.get("format").value_or(t.format);
  t.metric = args.get("metric").value_or(t.metric);
  // Accuracy is measured on tasks only, so it picks the task results unless told otherwise.
  t.protocol = args.get("protocol").value_or(is_accuracy_metric(t.metric) ? "task" : t.protocol);
  t.baseline = args.get("baseline").value_or(t.baseline);
  std::vector<json> reports;
  for (const auto& path : args.positional) reports.push_back(read_report(path));
  std::cout << render_table(reports, t);
  return 0;
}

int cmd_claims(int argc, char** argv) {
  Args args(argc, argv, 2, {"config"});
  if (args.positional.size() != 1) throw UsageError("claims takes one REPORT (report.json)");
  const std::string path = args.positional[0];
  json report = read_report(path);
  if (report.value("status", "") != "complete")
    throw InputError(fmt::format("{} is an incomplete report; finish the run first", path));
  if (auto config = args.get("config")) {
    // The claims must fit the report's runs and lengths, as they would at parse time.
    json cfg = report["config"];
    const json user = read_json_file(*config);
    if (!user.is_object()) throw ConfigError(fmt::format("config file \"{}\" is not a JSON object", *config));
    cfg["claims"] = user.value("claims", json::array());
    std::vector<std::string> names;
    for (const auto& run : report["runs"]) names.push_back(run["name"]);
    try {
      const auto tasks = cfg["data"].value("task", json::object()).value("names", std::vector<std::string>{});
      validate_claims(cfg["claims"], names, cfg["eval"]["lengths"].get<std::vector<double>>(),
                      tasks.empty() ? cfg["eval"]["protocols"].get<std::vector<std::string>>() : std::vector<std::string>{"task"},
                      tasks);
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}: {}", *config, e.what()));
    }
    report["config"]["claims"] = cfg["claims"];
  }
  report["claims"] = evaluate_claims(report);
  write_json_atomic(path, report);
  const auto md = (std::filesystem::path(path).parent_path() / "report.md").string();
  write_text_atomic(md, report_markdown(report));
  for (const auto& v : report["claims"]) std::cout << verdict_line(v) << "\n";
  return 0;
}

int cmd_merge(int argc, char** argv) {
  Args args(argc, argv, 2, {"out"});
  if (args.positional.empty()) throw UsageError("merge needs the shard reports (report.json of each shard)");
  std::vector<json> shards;
  for (const auto& path : args.positional) shards.push_back(read_report(path));
  const std::string out = args.get("out").value_or("results/" + shards.front().value("name", std::string("merged")));
  json report = merge_reports(shards, out);
  std::cout << "\n" << render_table({report}, default_table_options(report));
  return 0;
}

int cmd_plot(int argc, char** argv) {
  Args args(argc, argv, 2, {"out"});
  if (args.positional.size() != 1) throw UsageError("plot takes one REPORT (report.json)");
  const std::string report_path = args.positional[0];
  const auto dir = args.get("out").value_or(std::filesystem::path(report_path).parent_path().string());
  auto written = write_plots(read_report(report_path), dir.empty() ? "." : dir);
  if (written.empty()) throw std::runtime_error("no plots written");
  for (const auto& png : written) std::cout << png << "\n";
  return 0;
}

int cmd_inspect(int argc, char** argv) {
  Args args(argc, argv, 2, {"scaling", "factor", "head-dim", "heads", "train-length", "eval-length", "base", "options",
                                  "scaling-options", "exact-chunk"});
  if (args.positional.size() != 1) throw UsageError("inspect takes one ENCODING (see `lengthbench list`)");
  EncodingSpec spec;
  spec.name = args.positional[0];
  const int64_t head_dim = args.integer("head-dim", 32);
  spec.heads = args.integer("heads", 4);
  spec.d_model = head_dim * spec.heads;
  spec.train_length = args.integer("train-length", 128);
  const int64_t T = args.integer("eval-length", spec.train_length);
  spec.max_length = std::max(T, spec.train_length);
  if (auto options = args.get("options")) {
    spec.options = nlohmann::json::parse(*options, nullptr, false);
    if (!spec.options.is_object())
      throw UsageError(fmt::format("--options must be a JSON object of encoding options, got {}", *options));
  }
  if (args.get("base")) spec.options["base"] = args.number("base");
  auto encoding = make_encoding(spec);
  Scaling scaling;
  scaling.method = args.get("scaling").value_or("none");
  if (auto f = args.get("factor"); f && *f != "auto") scaling.factor = args.number("factor");
  if (auto options = args.get("scaling-options")) {
    scaling.options = nlohmann::json::parse(*options, nullptr, false);
    if (!scaling.options.is_object())
      throw UsageError(fmt::format("--scaling-options must be a JSON object of scaling options, got {}", *options));
  }
  if (args.get("exact-chunk")) scaling.exact_chunk = args.integer("exact-chunk", 0);
  encoding->set_scaling(scaling);
  torch::NoGradGuard no_grad;
  std::cout << encoding->inspect(T).dump() << "\n";
  return 0;
}

int cmd_bench(int argc, char** argv) {
  Args args(argc, argv, 2, {"layers", "d-model", "heads", "length", "batch", "steps", "warmup", "threads",
                            "precision", "encoding", "eval-tokens", "gemm-peak", "fused-seeds", "gemm"});
  const int threads = use_threads(int(args.integer("threads", 2)));
  if (auto peak = args.get("gemm-peak")) {  // --gemm-peak N: square GEMM size
    const int64_t n = args.integer("gemm-peak", 1024);
    // fp32 through the BLAS with the BLAS on every core (the layout that path trains in), and
    // through oneDNN on the OpenMP pool.
    double blas_fp32 = 0;
    {
      const GemmBackendScope blas(GemmBackend::kLibtorch);
      const ThreadLayoutScope layout(choose_thread_layout(threads, false, "cpu"));
      blas_fp32 = gemm_peak(n, torch::kFloat32, GemmBackend::kLibtorch, 10);
    }
    std::cout << json{{"gemm", n},
                      {"fp32_flops", gemm_peak(n, torch::kFloat32, default_gemm_backend(), 10)},
                      {"fp32_blas_flops", blas_fp32},
                      {"fp32_gemm", gemm_backend_name(default_gemm_backend())},
                      {"bf16_flops", gemm_peak(n, torch::kBFloat16, GemmBackend::kLibtorch, 10)}}.dump() << "\n";
    return 0;
  }
  BenchOptions o;
  o.layers = args.integer("layers", o.layers);
  o.d_model = args.integer("d-model", o.d_model);
  o.heads = args.integer("heads", o.heads);
  o.length = args.integer("length", o.length);
  o.batch = args.integer("batch", o.batch);
  o.steps = args.integer("steps", o.steps);
  o.warmup = args.integer("warmup", o.warmup);
  o.eval_tokens = args.integer("eval-tokens", o.eval_tokens);
  o.threads = threads;
  o.precision = args.get("precision").value_or(o.precision);
  if (o.precision != "auto" && o.precision != "bf16" && o.precision != "fp32")
    throw UsageError("--precision: allowed: auto, bf16, fp32");
  o.encoding = args.get("encoding").value_or(o.encoding);
  o.fused_seeds = args.integer("fused-seeds", 0);
  o.gemm = args.get("gemm").value_or(o.gemm);
  if (o.gemm != "onednn" && o.gemm != "libtorch") throw UsageError("--gemm: allowed: onednn, libtorch");
  std::cout << run_bench(o).dump() << "\n";
  return 0;
}

int cmd_list() {
  std::cout << "encodings (trained in; positions, then what else it can do):\n";
  for (const auto& e : encoding_registry()) {
    std::string traits = position_kind_name(e.capabilities.kind);
    if (e.capabilities.takes_scalings) traits += ", takes scalings";
    if (e.capabilities.learned_positions) traits += ", learned positions";
    std::string opts = e.option_defaults.empty() ? "" : "  options " + e.option_defaults.dump();
    std::cout << fmt::format("  {:<12} {} [{}]{}\n", e.name, e.description, traits, opts);
  }
  std::cout << fmt::format("scalings (inference-time, for {}; factor \"auto\" = max(1, T/L) or a number >= 1):\n",
                           fmt::join(encodings_taking_scalings(), ", "));
  for (const auto& s : scaling_methods()) {
    std::string opts = s.option_defaults.empty() ? "" : "  options " + s.option_defaults.dump();
    std::cout << fmt::format("  {:<12} {}{}\n", s.name, s.description, opts);
  }
  std::cout << "  with a length-dependent factor, \"exact_chunk\": N (or \"auto\" = L/4) scores queries in chunks of N, "
               "each at s = max(1, chunk end / L) on its own prefix (exact dynamic scaling)\n";
  std::cout << "tasks (data.task.names; scored by exact match):\n";
  for (const auto& t : task_registry())
    std::cout << fmt::format("  {:<12} {} (instances of at least {} tokens)\n", t.name, t.description, t.min_length);
  return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  // A write over the file-size limit fails with EFBIG (one clear error) instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  spdlog::set_pattern("%H:%M:%S %^%l%$ %v");
  // Activations of a few MB are allocated and freed every step; keep them in the heap instead of
  // paying mmap + page faults + munmap for each (glibc's default for blocks >= 128 KiB). 32 MiB is
  // glibc's largest mmap threshold; bigger blocks (evaluation's [B, H, 4L, 4L] scores) stay in the
  // heap only when its top has room, hence the 1 GiB pad (address space: untouched pages cost no
  // memory). Measured: 580k -> 90k page faults and evaluation at 4L 1.6-1.7x faster (fp32, quick size).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 1 << 30);
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  try {
    if (command == "run") return cmd_run(argc, argv);
    if (command == "tokenize") return cmd_tokenize(argc, argv);
    if (command == "table") return cmd_table(argc, argv);
    if (command == "plot") return cmd_plot(argc, argv);
    if (command == "claims") return cmd_claims(argc, argv);
    if (command == "merge") return cmd_merge(argc, argv);
    if (command == "inspect") return cmd_inspect(argc, argv);
    if (command == "list") return cmd_list();
    if (command == "bench") return cmd_bench(argc, argv);
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    throw UsageError(fmt::format("unknown command \"{}\"", command));
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const Interrupted& e) {
    std::cerr << "error: " << e.what() << "; progress is saved: run the same command again to resume\n";
    return 130;
  } catch (...) {
    return report_error(std::current_exception());
  }
}

int report_error(std::exception_ptr error) {
  // One line each, never a stack trace: libtorch's messages carry one, so only their first part is shown.
  try {
    std::rethrow_exception(error);
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "error: JSON data lacks an expected field or type (a report or state file from another version?): "
              << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << error_line(e) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory (see the memory estimate at the start of the run; lower eval.batch_tokens, "
                 "train.batch_size or the model size)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "error: unknown failure\n";
    return 1;
  }
}

}  // namespace lb
