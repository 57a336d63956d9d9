// Finishing a report: claims (unless it is one shard of a config), plots, report.json,
// report.md and the csv/latex tables, all written atomically into one directory; and `merge`,
// which joins the shard reports of one config into one published report.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb {

void publish_report(nlohmann::json& report, const std::string& out_dir);

// `lengthbench merge`: joins the reports of every shard of one config (same config and data,
// each shard complete and present once) into one report, written to out_dir with its tables,
// plots and claims.
nlohmann::json merge_reports(const std::vector<nlohmann::json>& shards, const std::string& out_dir);

}  // namespace lb
