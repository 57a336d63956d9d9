// `lengthbench run`: train each distinct model once, evaluate every run at every length and
// protocol, and write report.json / report.md / plots. Resumes after interruption: trained
// models come back from checkpoints and finished runs from the previous report.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "harness/config.h"

namespace lb {

struct RunOptions {
  std::string out_dir = "results/run";
  int threads = -1;  // -1: take the config's
};

int resolve_threads(int requested);  // 0 = all cores
nlohmann::json run_experiment(const Config& config, const RunOptions& options);
std::string report_markdown(const nlohmann::json& report);

}  // namespace lb
