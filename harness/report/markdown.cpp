#include "harness/report/markdown.h"

#include <fmt/format.h>

#include "harness/report/tables.h"

namespace lb {

using nlohmann::json;

namespace {

// "Scored: 32 chunks of 1,536 tokens (49,152 tokens) from 30 of 242 held-out documents (stream sample)."
std::string sample_sentence(const json& e) {
  if (e.value("sample", "") == "tasks")
    return fmt::format("Scored at every length: {} instances per task of exactly T + 1 tokens (seed {}); {} training "
                       "seed(s): {}.", e["instances"].get<int64_t>(), e["seed"].get<uint64_t>(),
                       e["training_seeds"].size(), e["training_seeds"].dump());
  if (!e.contains("chunks")) return fmt::format("{} held-out tokens scored at every length.", e.value("tokens", 0));
  return fmt::format("Scored at every length: {} chunks of {} tokens ({} tokens) from {} of {} held-out documents "
                     "({} sample, seed {}); {} training seed(s): {}.",
                     e["chunks"].get<int64_t>(), e["chunk_tokens"].get<int64_t>(), e["tokens"].get<int64_t>(),
                     e["documents"].get<int64_t>(), e["held_out_documents"].get<int64_t>(),
                     e["sample"].get<std::string>(), e["seed"].get<uint64_t>(), e["training_seeds"].size(),
                     e["training_seeds"].dump());
}

std::string error_phrase(const json& e) {
  if (!e.contains("training_seeds")) return "clustered by window";
  if (e.value("sample", "") == "tasks")
    return e["training_seeds"].size() > 1 ? "mean over seeds; error from instances and seeds" : "over instances, one seed";
  return e["training_seeds"].size() > 1 ? "mean over seeds; error from documents and seeds" : "clustered by document, one seed";
}

}  // namespace

std::string report_markdown(const json& report) {
  const auto& cfg = report.at("config");
  const auto& env = report.at("environment");
  std::string md = fmt::format("# {}\n\n", report.at("name").get<std::string>());
  if (const std::string description = cfg.value("description", ""); !description.empty()) md += description + "\n\n";
  if (report.value("status", "") != "complete") md += "**Incomplete run: not every run finished.**\n\n";
  md += fmt::format(
      "Model: {} layers, d_model {}, {} heads; trained at L = {} for {} steps (batch {}), {}. "
      "Data: `{}`. {}\n\n",
      cfg["model"]["layers"].get<int>(), cfg["model"]["d_model"].get<int>(), cfg["model"]["heads"].get<int>(),
      cfg["train"]["length"].get<int>(), cfg["train"]["steps"].get<int>(), cfg["train"]["batch_size"].get<int>(),
      env.contains("precision") && env["precision"].is_object() ? env["precision"].value("effective", "?")
                                                                 : cfg["precision"].get<std::string>(),
      report["evaluation"].value("sample", "") == "tasks"
          ? "tasks " + cfg["data"]["task"]["names"].dump()
          : cfg["data"]["path"].get<std::string>(),
      sample_sentence(report.at("evaluation")));
  if (report["evaluation"].contains("warning"))
    md += fmt::format("**Warning: {}** -- errors are n/a below 2 documents and unreliable with few.\n\n",
                      report["evaluation"]["warning"].get<std::string>());
  for (const auto& protocol : report.at("evaluation").at("protocols")) {
    if (protocol == "task") {
      for (const std::string metric : {"accuracy", "token_accuracy"}) {
        TableOptions t;
        t.protocol = "task";
        t.metric = metric;
        md += fmt::format("## {} on the tasks\n\n{} ± standard error ({}); best per column in bold.\n\n",
                          metric == "accuracy" ? "Exact match" : "Answer-token accuracy",
                          metric == "accuracy" ? "fraction of instances with every answer token right"
                                               : "fraction of answer tokens right",
                          error_phrase(report.at("evaluation")));
        md += render_table({report}, t) + "\n";
      }
      continue;
    }
    TableOptions t;
    t.protocol = protocol;
    md += fmt::format("## Perplexity, {} windows{}\n\nppl ± standard error ({}); best per column in bold.\n\n",
                      protocol.get<std::string>(),
                      protocol == "sliding" ? fmt::format(" (stride {})", report["evaluation"]["sliding_stride"].get<int>()) : "",
                      error_phrase(report.at("evaluation")));
    md += render_table({report}, t) + "\n";
  }
  if (report.contains("failed_runs"))
    md += fmt::format("**{} run(s) failed: {}.** Their rows say why; the other runs are complete.\n\n",
                      report["failed_runs"].size(), report["failed_runs"].dump());
  if (report.contains("claims_error"))
    md += fmt::format("**Claims not checked:** {} (fix them and run `lengthbench claims REPORT --config CONFIG`).\n\n",
                      report["claims_error"].get<std::string>());
  if (report.contains("claims")) {
    md += fmt::format("## Claims\n\n{} claim(s) tested, each at 95%: expect about one in twenty true-looking verdicts "
                      "to be luck when many are tested (no multiple-comparison correction is applied). "
                      "d = nll(left) − nll(right) per token (or the difference in accuracy, for task claims) ± its "
                      "standard error, paired by held-out document (task instance) and, with several seeds, by "
                      "training seed; held when all of d ± t·se satisfies the claim (t: Student's "
                      "quantile at the error's degrees of freedom), not held when none of it does, inconclusive "
                      "otherwise or when the error is unknown.\n\n"
                      "| claim | check | d ± se | verdict |\n|---|---|---:|---|\n",
                      report["claims"].size());
    for (const auto& v : report["claims"]) {
      auto side = [](const json& s) { return fmt::format("{} @{}L", s["run"].get<std::string>(), s["length"].dump()); };
      const std::string metric = v.value("metric", "nll");
      const std::string unit = metric == "nll" ? "nats" : metric;
      std::string check = side(v["left"]) + " " + (v["op"] == "~" ? "≈" : v["op"].get<std::string>()) + " " + side(v["right"]);
      if (v["op"] == "~") check += fmt::format(" (±{} {})", v["tolerance"].dump(), unit);
      else if (v["op"] == "<=") check += fmt::format(" ({} not worse by > {})", unit, v.value("margin", json(0.01)).dump());
      else check += fmt::format(" (by > {} {})", v.value("margin", json(0.01)).dump(), unit);
      if (v.contains("task")) check += ", task " + v["task"].get<std::string>();
      else if (v["protocol"] != "nonoverlapping") check += ", " + v["protocol"].get<std::string>();
      const std::string error = v["stderr"].is_number() ? fmt::format("{:.3f}", v["stderr"].get<double>()) : "n/a";
      std::string verdict = fmt::format("**{}**", v["verdict"].get<std::string>());
      if (v.contains("reason")) verdict += " (" + v["reason"].get<std::string>() + ")";
      md += fmt::format("| {} | {} | {:+.3f} ± {} | {} |\n", v["claim"].get<std::string>(), check,
                        v["difference"].get<double>(), error, verdict);
    }
    md += "\n";
  }
  md += "## Runs\n\n| run | encoding | scaling | factor | params | train loss | train tok/s | train time | peak RSS |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto& run : report.at("runs")) {
    const auto& f = run["factor"];
    if (run.value("status", "complete") == "failed") {
      md += fmt::format("| {} | {} | {} | {} | **failed**: {} |||||\n", run["name"].get<std::string>(),
                        run["encoding"].get<std::string>(), run["scaling"].get<std::string>(),
                        f.is_null() ? "–" : f.is_string() ? f.get<std::string>() : f.dump(), run.value("error", ""));
      continue;
    }
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
    json first;
    for (const auto& run : report.at("runs"))
      if (run.contains("passkey") && first.is_null()) first = run["passkey"];
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
