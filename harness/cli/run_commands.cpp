// run, merge, tokenize.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <iostream>
#include <sstream>

#include "harness/core/schema.h"
#include "harness/cli/handlers.h"
#include "harness/data/corpus.h"
#include "harness/report/files.h"
#include "harness/report/publish.h"
#include "harness/report/tables.h"
#include "harness/run/config_load.h"
#include "harness/run/experiment.h"
#include "harness/run/shard_plan.h"

namespace lb {

using nlohmann::json;

namespace {

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

const std::string& one_operand(const Args& args, const char* command, const char* what) {
  if (args.operands().size() != 1) throw UsageError(fmt::format("{} takes one {}", command, what));
  return args.operands()[0];
}

}  // namespace

int cmd_run(const Args& args) {
  Config config = load_config(one_operand(args, "run", "CONFIG file"), args.all("set"));
  if (args.has("shard-plan")) {
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
  use_threads(args.has("threads") ? int(args.integer("threads", 1)) : config.threads);
  install_interrupt_handler();  // Ctrl-C: checkpoint, incomplete report, exit 130
  options.data_parallel = data_parallel_from_env();
  if (options.data_parallel && !options.data_parallel->is_main())
    spdlog::set_pattern(fmt::format("%H:%M:%S [rank {}] %^%l%$ %v", options.data_parallel->rank()));
  const json report = run_experiment(config, options);
  if (options.data_parallel && !options.data_parallel->is_main()) return 0;  // rank 0 reports
  std::cout << "\n" << render_table({report}, default_table_options(report));
  if (report.contains(key::failed_runs)) {
    std::cerr << fmt::format("error: {} run(s) failed: {} (see {}/report.md)\n", report[key::failed_runs].size(),
                             report[key::failed_runs].dump(), options.out_dir);
    return 1;
  }
  if (report.contains(key::claims_error)) {
    std::cerr << "error: claims not checked: " << report[key::claims_error].get<std::string>() << "\n";
    return 1;
  }
  return 0;
}

int cmd_tokenize(const Args& args) {
  Config config = load_config(one_operand(args, "tokenize", "CONFIG file"), args.all("set"));
  use_threads(args.has("threads") ? int(args.integer("threads", 1)) : config.threads);
  const Corpus corpus = load_corpus(config.data);
  std::cout << corpus.summary.dump(2) << "\n";
  return 0;
}

int cmd_merge(const Args& args) {
  if (args.operands().empty()) throw UsageError("merge needs the shard reports (report.json of each shard)");
  std::vector<json> shards;
  for (const auto& path : args.operands()) shards.push_back(read_report(path));
  const std::string out = args.get("out").value_or("results/" + shards.front().value(key::name, std::string("merged")));
  const json report = merge_reports(shards, out);
  std::cout << "\n" << render_table({report}, default_table_options(report));
  return 0;
}

}  // namespace lb
