#include "harness/report/publish.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <filesystem>
#include <map>

#include "harness/core/schema.h"
#include "harness/report/claims.h"
#include "harness/core/statistics.h"
#include "harness/report/files.h"
#include "harness/report/markdown.h"
#include "harness/report/plots.h"
#include "harness/report/tables.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

// Claims (unless this is one shard of a config), plots, report.json, report.md and tables.
void publish_report(json& report, const std::string& out_dir) {
  const fs::path out(out_dir);
  if (!report.contains(key::shard) && !report[key::config].value(key::claims, json::array()).empty()) {
    // A claim that cannot be checked must not cost the finished runs their report.
    try {
      report[key::claims] = evaluate_claims(report);
      for (const auto& v : report[key::claims]) spdlog::info("claim {}", verdict_line(v));
    } catch (const std::exception& e) {
      report[key::claims_error] = e.what();
      spdlog::error("claims not checked: {} (fix them and run `lengthbench claims REPORT --config CONFIG`)", e.what());
    }
  }
  report[key::plots] = json::array();
  for (const auto& png : write_plots(report, out.string()))
    report[key::plots].push_back(fs::path(png).filename().string());
  write_json_atomic((out / "report.json").string(), report);
  write_text_atomic((out / "report.md").string(), report_markdown(report));
  for (const auto& format : {"csv", "latex"}) {
    TableOptions t = default_table_options(report);
    t.format = format;
    write_text_atomic((out / (std::string("table.") + (t.format == "csv" ? "csv" : "tex"))).string(),
                      render_table({report}, t));
  }
}

json merge_reports(const std::vector<json>& shards, const std::string& out_dir) {
  if (shards.empty()) throw std::invalid_argument("merge needs the shard reports");
  const json& first = shards.front();
  if (!first.contains(key::shard))
    throw std::invalid_argument("merge joins shard reports (written by `run --shard i/N`); the first is not one");
  const int count = first[key::shard][key::count];
  std::vector<int> seen(count + 1, 0);
  std::map<std::string, json> runs;
  json merged = first;
  merged.erase(key::shard);
  merged.erase(key::claims);
  merged[key::shards] = json::array();
  double seconds = 0;
  for (const auto& shard : shards) {
    if (!shard.contains(key::shard) || shard[key::shard][key::count] != count)
      throw std::invalid_argument(fmt::format("merge: every report must be a shard of the same {}-way split", count));
    const int index = shard[key::shard][key::index];
    if (shard[key::config] != first[key::config] || shard[key::data] != first[key::data])
      throw std::invalid_argument(fmt::format("merge: shard {} ran a different config or data than shard {}", index,
                                              first[key::shard][key::index].get<int>()));
    auto effective = [](const json& r) {
      return r.value(key::environment, json::object()).value(key::precision, json::object()).value(key::effective, json());
    };
    if (effective(shard) != effective(first))
      throw std::invalid_argument(fmt::format("merge: shard {} computed in {} but shard {} in {}; rerun one with "
                                              "--set precision=...", index, effective(shard).dump(),
                                              first[key::shard][key::index].get<int>(), effective(first).dump()));
    if (shard.value(key::status, "") != "complete")
      throw std::invalid_argument(fmt::format("merge: shard {}/{} is incomplete; finish it first", index, count));
    if (++seen.at(size_t(index)) > 1) throw std::invalid_argument(fmt::format("merge: shard {}/{} given twice", index, count));
    for (const auto& run : shard[key::runs]) {  // a run's seeds may be spread over shards
      auto [it, fresh] = runs.emplace(run[key::name], run);
      if (!fresh)
        for (const auto& record : run[key::seeds]) it->second[key::seeds].push_back(record);
    }
    seconds += shard.value(key::seconds, 0.0);
    merged[key::shards].push_back({{key::index, index}, {key::environment, shard[key::environment]}, {key::seconds, shard[key::seconds]}});
  }
  for (int i = 1; i <= count; ++i)
    if (!seen[size_t(i)]) throw std::invalid_argument(fmt::format("merge: shard {}/{} is missing", i, count));
  merged[key::runs] = json::array();
  // The seeds a run trains, as the shards' runner recorded them (Config::training_seeds).
  const json evaluation = first.value(key::evaluation, json::object());
  if (!evaluation.contains(key::training_seeds))
    throw std::invalid_argument("merge: the shards record no evaluation.training_seeds (reports from an older "
                                "lengthbench); run the shards again");
  const auto expected_seeds = evaluation[key::training_seeds].get<std::vector<uint64_t>>();
  for (const auto& entry : first[key::config][key::runs]) {
    const std::string name = entry.value(key::name, "");
    auto run = runs.find(name);
    if (run == runs.end()) throw std::invalid_argument(fmt::format("merge: no shard holds run \"{}\"", name));
    aggregate_run(run->second, expected_seeds);
    if (run->second[key::status] == "incomplete")
      throw std::invalid_argument(fmt::format("merge: run \"{}\" has {} of its {} seeds; a shard is missing", name,
                                              run->second[key::seeds].size(), expected_seeds.size()));
    merged[key::runs].push_back(run->second);
  }
  merged[key::status] = "complete";
  merged[key::seconds] = seconds;  // compute time summed over shards
  const fs::path out(out_dir);
  fs::create_directories(out);
  publish_report(merged, out.string());
  spdlog::info("merged {} shards into {}", count, (out / "report.json").string());
  return merged;
}

}  // namespace lb
