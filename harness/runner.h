// `lengthbench run`: train each distinct model once, evaluate every run at every length and
// protocol, and write report.json / report.md / plots. Resumes after interruption: trained
// models come back from checkpoints and finished runs from the previous report.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/config.h"

namespace lb {

struct RunOptions {
  std::string out_dir = "results/run";
  int threads = -1;  // -1: take the config's
  // --shard i/N (1-based): run only this slice. Runs sharing a trained model (e.g. rope and its
  // scalings) stay in one shard; trained models are dealt to shards in config order.
  int shard_index = 0, shard_count = 0;  // 0: no sharding
};

int resolve_threads(int requested);  // 0 = all cores
nlohmann::json run_experiment(const Config& config, const RunOptions& options);
std::string report_markdown(const nlohmann::json& report);

// `lengthbench merge`: joins the reports of every shard of one config (same config and data,
// each shard complete and present once) into one report, written to out_dir with its tables,
// plots and claims.
nlohmann::json merge_reports(const std::vector<nlohmann::json>& shards, const std::string& out_dir);

}  // namespace lb
