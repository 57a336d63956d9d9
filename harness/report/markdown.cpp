#include "harness/report/markdown.h"

#include <fmt/format.h>

#include "harness/core/schema.h"
#include "harness/report/tables.h"

namespace lb {

using nlohmann::json;

namespace {

// "Scored: 32 chunks of 1,536 tokens (49,152 tokens) from 30 of 242 held-out documents (stream sample)."
std::string sample_sentence(const json& e) {
  if (e.value(key::sample, "") == "tasks")
    return fmt::format("Scored at every length: {} instances per task of exactly T + 1 tokens (seed {}); {} training "
                       "seed(s): {}.", e[key::instances].get<int64_t>(), e[key::seed].get<uint64_t>(),
                       e[key::training_seeds].size(), e[key::training_seeds].dump());
  if (!e.contains(key::chunks)) return fmt::format("{} held-out tokens scored at every length.", e.value(key::tokens, 0));
  return fmt::format("Scored at every length: {} chunks of {} tokens ({} tokens) from {} of {} held-out documents "
                     "({} sample, seed {}); {} training seed(s): {}.",
                     e[key::chunks].get<int64_t>(), e[key::chunk_tokens].get<int64_t>(), e[key::tokens].get<int64_t>(),
                     e[key::documents].get<int64_t>(), e[key::held_out_documents].get<int64_t>(),
                     e[key::sample].get<std::string>(), e[key::seed].get<uint64_t>(), e[key::training_seeds].size(),
                     e[key::training_seeds].dump());
}

std::string error_phrase(const json& e) {
  if (!e.contains(key::training_seeds)) return "clustered by window";
  if (e.value(key::sample, "") == "tasks")
    return e[key::training_seeds].size() > 1 ? "mean over seeds; error from instances and seeds" : "over instances, one seed";
  return e[key::training_seeds].size() > 1 ? "mean over seeds; error from documents and seeds" : "clustered by document, one seed";
}

}  // namespace

std::string report_markdown(const json& report) {
  const auto& cfg = report.at(key::config);
  const auto& env = report.at(key::environment);
  std::string md = fmt::format("# {}\n\n", report.at(key::name).get<std::string>());
  if (const std::string description = cfg.value(key::description, ""); !description.empty()) md += description + "\n\n";
  if (report.value(key::status, "") != "complete") md += "**Incomplete run: not every run finished.**\n\n";
  md += fmt::format(
      "Model: {} layers, d_model {}, {} heads; trained at L = {} for {} steps (batch {}), {}. "
      "Data: `{}`. {}\n\n",
      cfg[key::model]["layers"].get<int>(), cfg[key::model]["d_model"].get<int>(), cfg[key::model]["heads"].get<int>(),
      cfg[key::train][key::length].get<int>(), cfg[key::train][key::steps].get<int>(), cfg[key::train][key::batch_size].get<int>(),
      env.contains(key::precision) && env[key::precision].is_object() ? env[key::precision].value(key::effective, "?")
                                                                 : cfg[key::precision].get<std::string>(),
      report[key::evaluation].value(key::sample, "") == "tasks"
          ? "tasks " + cfg[key::data][key::task][key::names].dump()
          : cfg[key::data][key::path].get<std::string>(),
      sample_sentence(report.at(key::evaluation)));
  if (cfg[key::model].contains("tie_embeddings"))  // reports before the recipe keys: tied, 0.02
    md += fmt::format("Recipe: output head {}; token embedding initialised N(0, {}²); sinusoidal table (where used) "
                      "scaled by {} unless the run sets its scale.\n\n",
                      cfg[key::model]["tie_embeddings"].get<bool>() ? "tied to the token embedding" : "its own matrix (untied)",
                      cfg[key::model]["embedding_std"].get<double>(), cfg[key::model]["embedding_std"].get<double>());
  if (report[key::evaluation].contains(key::warning))
    md += fmt::format("**Warning: {}** -- errors are n/a below 2 documents and unreliable with few.\n\n",
                      report[key::evaluation][key::warning].get<std::string>());
  for (const auto& protocol : report.at(key::evaluation).at(key::protocols)) {
    if (protocol == "task") {
      for (const std::string metric : {"accuracy", "token_accuracy"}) {
        TableOptions t;
        t.protocol = "task";
        t.metric = metric;
        md += fmt::format("## {} on the tasks\n\n{} ± standard error ({}); best per column in bold.\n\n",
                          metric == "accuracy" ? "Exact match" : "Answer-token accuracy",
                          metric == "accuracy" ? "fraction of instances with every answer token right"
                                               : "fraction of answer tokens right",
                          error_phrase(report.at(key::evaluation)));
        md += render_table({report}, t) + "\n";
      }
      continue;
    }
    TableOptions t;
    t.protocol = protocol;
    md += fmt::format("## Perplexity, {} windows{}\n\nppl ± standard error ({}); best per column in bold.\n\n",
                      protocol.get<std::string>(),
                      protocol == "sliding" ? fmt::format(" (stride {})", report[key::evaluation][key::sliding_stride].get<int>()) : "",
                      error_phrase(report.at(key::evaluation)));
    md += render_table({report}, t) + "\n";
  }
  if (report.contains(key::failed_runs))
    md += fmt::format("**{} run(s) failed: {}.** Their rows say why; the other runs are complete.\n\n",
                      report[key::failed_runs].size(), report[key::failed_runs].dump());
  if (report.contains(key::claims_error))
    md += fmt::format("**Claims not checked:** {} (fix them and run `lengthbench claims REPORT --config CONFIG`).\n\n",
                      report[key::claims_error].get<std::string>());
  if (report.contains(key::claims)) {
    md += fmt::format("## Claims\n\n{} claim(s), tested as one family. "
                      "d = nll(left) − nll(right) per token (or the difference in accuracy, for task claims) ± its "
                      "standard error (CR2 by held-out document or task instance, Bell–McCaffrey df, plus the "
                      "between-seed part with several seeds); each direction is a one-sided t test at 2.5% (the "
                      "95% interval): held when all of d ± t·se satisfies the claim, not held when none of it does. "
                      "The verdict is Holm-corrected over the report's claims (the uncorrected one beside it); "
                      "inconclusive means the interval straddles the threshold, **underpowered** that it does and the "
                      "test had under 80% power for the effect named in the last column (the paper's effect where the "
                      "claim gives one, else the effect observed) — no power, not evidence against. Margins (default "
                      "0.01 nats) and tolerances are this harness's choices unless the claim's source says otherwise. "
                      "Errors with one seed are conditional on the trained checkpoint.\n\n"
"| claim | check | d ± se | verdict (Holm) | before Holm | detectable (80% power) | seeds for 80% |\n"
                      "|---|---|---:|---|---|---:|---:|\n",
                      report[key::claims].size());
    for (const auto& v : report[key::claims]) {
      auto side = [](const json& s) { return fmt::format("{} @{}L", s[key::run].get<std::string>(), s[key::length].dump()); };
      const std::string metric = v.value(key::metric, "nll");
      const std::string unit = metric == "nll" ? "nats" : metric;
      std::string check = side(v[key::left]) + " " + (v[key::op] == "~" ? "≈" : v[key::op].get<std::string>()) + " " + side(v[key::right]);
      if (v[key::op] == "~") check += fmt::format(" (±{} {})", v[key::tolerance].dump(), unit);
      else if (v[key::op] == "<=") check += fmt::format(" ({} not worse by > {})", unit, v.value(key::margin, json(0.01)).dump());
      else check += fmt::format(" (by > {} {})", v.value(key::margin, json(0.01)).dump(), unit);
      if (v.contains(key::task)) check += ", task " + v[key::task].get<std::string>();
      else if (v[key::protocol] != "nonoverlapping") check += ", " + v[key::protocol].get<std::string>();
      const std::string error = v[key::stderr_].is_number() ? fmt::format("{:.3f}", v[key::stderr_].get<double>()) : "n/a";
      std::string verdict = fmt::format("**{}**", v[key::verdict].get<std::string>());
      if (v.contains(key::reason)) verdict += " (" + v[key::reason].get<std::string>() + ")";
      const json& k = v.value(key::seeds_needed, json());
      std::string claim = v[key::claim].get<std::string>();
      if (v.contains(key::source)) claim += fmt::format(" — source: “{}”", v[key::source].get<std::string>());
      md += fmt::format("| {} | {} | {:+.3f} ± {} | {} | {} | {} | {} |\n", claim, check,
                        v[key::difference].get<double>(), error, verdict, v.value(key::verdict_uncorrected, "–"),
                        v.value(key::detectable, json()).is_number() ? fmt::format("{:.3f}", v[key::detectable].get<double>()) : "n/a",
                        k.is_number() ? fmt::format("{} ({})", k.get<int64_t>(), v[key::power_for].get<std::string>())
                                      : v.value(key::seeds_needed_note, std::string("–")));
    }
    md += "\n";
  }
  md += "## Runs\n\n| run | encoding | scaling | factor | params | train loss | train tok/s | train time | peak RSS |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto& run : report.at(key::runs)) {
    const auto& f = run[key::factor];
    if (run.value(key::status, "complete") == "failed") {
      md += fmt::format("| {} | {} | {} | {} | **failed**: {} |||||\n", run[key::name].get<std::string>(),
                        run[key::encoding].get<std::string>(), run[key::scaling].get<std::string>(),
                        f.is_null() ? "–" : f.is_string() ? f.get<std::string>() : f.dump(), run.value(key::error, ""));
      continue;
    }
    md += fmt::format("| {} | {} | {} | {} | {} | {:.3f} | {:.0f} | {:.0f}s | {:.0f} MB |\n", run[key::name].get<std::string>(),
                      run[key::encoding].get<std::string>(), run[key::scaling].get<std::string>(),
                      f.is_null() ? "–" : f.is_string() ? f.get<std::string>() : f.dump(),
                      run[key::parameters].get<int64_t>(), run[key::train][key::final_loss].get<double>(),
                      run[key::train][key::tokens_per_second].get<double>(), run[key::train][key::seconds].get<double>(),
                      run.value(key::peak_rss_mb, 0.0));
  }
  bool any_passkey = false;
  for (const auto& run : report.at(key::runs)) any_passkey = any_passkey || run.contains(key::passkey);
  if (any_passkey) {
    md += "\n## Passkey retrieval\n\nRetrieved / trials (greedy, every digit right), by window length T and depth of the key.\n\n";
    json first;
    for (const auto& run : report.at(key::runs))
      if (run.contains(key::passkey) && first.is_null()) first = run[key::passkey];
    md += "| run |";
    std::string rule = "|---|";
    for (const auto& r : first) {
      md += fmt::format(" T={} @{:g} |", r[key::eval_length].get<int64_t>(), r[key::depth].get<double>());
      rule += "---:|";
    }
    md += "\n" + rule + "\n";
    for (const auto& run : report.at(key::runs)) {
      md += "| " + run[key::name].get<std::string>() + " |";
      for (const auto& r : run.value(key::passkey, json::array()))
        md += fmt::format(" {}/{} |", r[key::retrieved].get<int64_t>(), r[key::trials].get<int64_t>());
      md += "\n";
    }
  }
  std::string notes;
  for (const auto& run : report.at(key::runs))
    if (run.contains(key::notes)) notes += fmt::format("- {}: {}\n", run[key::name].get<std::string>(), run[key::notes].get<std::string>());
  if (!notes.empty()) md += "\nNotes:\n" + notes;
  if (report.contains(key::plots))
    for (const auto& png : report[key::plots]) md += fmt::format("\n![{0}]({0})\n", png.get<std::string>());
  md += fmt::format("\nEnvironment: libtorch {}, {} threads, {}, BLAS {}, CPU {}, host {}, commit {}.\n",
                    env[key::libtorch].get<std::string>(), env[key::threads].get<int>(), env[key::device].get<std::string>(),
                    env[key::blas].get<std::string>(), env[key::cpu].get<std::string>(), env[key::host].get<std::string>(),
                    env[key::git_commit].get<std::string>());
  return md;
}

}  // namespace lb
