#include "harness/cli/commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>

#include "harness/cli/handlers.h"
#include "harness/config/vocab.h"
#include "harness/model/matmul.h"
#include "harness/report/tables.h"
#include "harness/run/bench.h"

namespace lb {

namespace {

std::string choices(const std::vector<std::string>& values) { return fmt::format("{}", fmt::join(values, "|")); }

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"run", "CONFIG", "train what is needed, evaluate every run, write report.json, report.md, tables and plots",
       {{"set", "key.path=value", "override a config key (the value is JSON, else a string)", true},
        {"out", "DIR", "where the report goes (default results/<config name>, or its shard-i-of-N/)"},
        {"threads", "N", "cores to use (default: the config's threads, 0 = all)"},
        {"shard", "i/N|auto", "run only the i-th of N slices of the config (auto: from the Slurm array task)"},
        {"shard-plan", "N", "print how N shards would split the config, and stop"}},
       cmd_run},
      {"merge", "SHARD_REPORT...", "join the reports of `run --shard i/N` into one report",
       {{"out", "DIR", "where the merged report goes (default results/<config name>)"}},
       cmd_merge},
      {"tokenize", "CONFIG",
       "build the token cache (and the SentencePiece model if the config asks for one); print the cache manifest",
       {{"set", "key.path=value", "override a config key", true}, {"threads", "N", "cores to use"}},
       cmd_tokenize},
      {"table", "REPORT...", "comparison tables from one or more reports",
       {{"format", choices(table_formats()), "output format (default markdown)"},
        {"protocol", vocabulary_choices<Protocol>(), "which results (default nonoverlapping; task for accuracy)"},
        {"metric", choices(table_metrics()), "what the cells show (default ppl; accuracy for task reports)"},
        {"baseline", "RUN", "cells become the paired nll difference from this run, with its error"}},
       cmd_table},
      {"claims", "REPORT", "re-check the claims (or CONFIG's claims) against a finished report; rewrites report.json/.md",
       {{"config", "CONFIG", "take the claims from this config instead of the report's own"}},
       cmd_claims},
      {"plot", "REPORT", "PNG plots of a report",
       {{"out", "DIR", "where the plots go (default: next to the report)"}},
       cmd_plot},
      {"inspect", "ENCODING", "print an encoding's numbers as JSON (frequencies, slopes, buckets, tables)",
       {{"scaling", "S", "an inference-time scaling (see `lengthbench list`)"},
        {"factor", "F|auto", "the scaling factor s (auto: max(1, T/L))"},
        {"head-dim", "D", "head dimension (default 32)"},
        {"heads", "H", "attention heads (default 4)"},
        {"train-length", "L", "training length (default 128)"},
        {"eval-length", "T", "sequence length to inspect at (default L)"},
        {"base", "B", "RoPE base"},
        {"options", "JSON", "encoding options, e.g. '{\"width\": 3, \"sinks\": 1}'"},
        {"scaling-options", "JSON", "scaling options, e.g. '{\"beta_fast\": 16}'"},
        {"exact-chunk", "N", "exact dynamic scaling in chunks of N tokens"}},
       cmd_inspect},
      {"list", "", "the encodings, scalings and tasks, one line each", {}, cmd_list},
      {"reference", "config|cli", "print a reference page generated from the code (docs/reference/*.md)", {},
       cmd_reference},
      {"bench", "", "training and evaluation speed of one model shape (the C++ half of scripts/bench)",
       {{"layers", "N", fmt::format("layers (default {})", BenchOptions{}.layers)},
        {"d-model", "D", fmt::format("model width (default {})", BenchOptions{}.d_model)},
        {"heads", "H", fmt::format("heads (default {})", BenchOptions{}.heads)},
        {"length", "L", fmt::format("training length (default {})", BenchOptions{}.length)},
        {"batch", "B", fmt::format("batch size (default {})", BenchOptions{}.batch)},
        {"steps", "S", fmt::format("timed training steps (default {})", BenchOptions{}.steps)},
        {"warmup", "S", fmt::format("untimed steps first (default {})", BenchOptions{}.warmup)},
        {"threads", "N", fmt::format("cores (default {})", BenchOptions{}.threads)},
        {"precision", vocabulary_choices<Precision>(),
         fmt::format("compute precision (default {})", name_of(BenchOptions{}.precision))},
        {"encoding", "E", fmt::format("encoding (default {})", BenchOptions{}.encoding)},
        {"attention", vocabulary_choices<AttentionKind>(),
         fmt::format("attention (default {})", name_of(BenchOptions{}.attention))},
        {"eval-tokens", "N", fmt::format("tokens per evaluation batch (default {})", BenchOptions{}.eval_tokens)},
        {"fused-seeds", "N", "also time N seeds trained as one fused model"},
        {"eval-length", "T", "the evaluation length timed (default 4L)"},
        {"eval-only", "", "time evaluation only: its speed and the process's peak memory at --eval-length"},
        {"gemm", vocabulary_choices<GemmBackend>(), "fp32 CPU matrix products (default onednn where found)"},
        {"gemm-peak", "N", "instead: the GEMM peak of N x N products per precision, and stop"}},
       cmd_bench},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

std::string command_usage(const Command& c) {
  std::string line = "usage: lengthbench " + c.name + (c.operands.empty() ? "" : " " + c.operands);
  for (const auto& f : c.flags)
    line += fmt::format(" [--{}{}]{}", f.name, f.value.empty() ? "" : " " + f.value, f.repeatable ? "..." : "");
  std::string out = line + "\n  " + c.summary + "\n";
  size_t width = 0;
  for (const auto& f : c.flags) width = std::max(width, f.name.size() + (f.value.empty() ? 0 : f.value.size() + 1));
  for (const auto& f : c.flags) {
    const std::string head = f.name + (f.value.empty() ? "" : " " + f.value);
    out += fmt::format("  --{:<{}}  {}\n", head, width, f.help);
  }
  out += fmt::format("  --{:<{}}  {}\n", "help", width, "this text");
  return out;
}

std::string overall_usage() {
  std::string out = "usage: lengthbench COMMAND [OPERANDS] [--flag value]...\ncommands:\n";
  for (const auto& c : commands())
    out += fmt::format("  {:<9} {:<16} {}\n", c.name, c.operands, c.summary);
  out += "`lengthbench COMMAND --help` lists a command's flags.\n";
  return out;
}

Args::Args(const Command& command, int argc, char** argv, int first) : command_(command) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      operands_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    if (eq != std::string::npos) name = name.substr(0, eq);
    const auto flag = std::find_if(command.flags.begin(), command.flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == command.flags.end())
      throw UsageError(fmt::format("{} has no option --{}", command.name, name));
    if (flag->value.empty()) {
      if (eq != std::string::npos) throw UsageError(fmt::format("--{} takes no value", name));
    } else if (eq != std::string::npos) {
      value = a.substr(2 + eq + 1);
    } else {
      if (i + 1 >= argc) throw UsageError(fmt::format("--{} needs a value ({})", name, flag->value));
      value = argv[++i];
    }
    if (!flag->repeatable && flags_.count(name)) throw UsageError(fmt::format("--{} is given twice", name));
    flags_.emplace(name, value);
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (auto [it, end] = flags_.equal_range(name); it != end; ++it) out.push_back(it->second);
  return out;
}

int64_t Args::integer(const std::string& name, int64_t fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    size_t used = 0;
    const int64_t n = std::stoll(*v, &used);
    if (used == v->size() && n > 0) return n;
  } catch (...) {
  }
  throw UsageError(fmt::format("--{} must be a positive integer, got \"{}\"", name, *v));
}

double Args::number(const std::string& name) const {
  const auto v = get(name);
  try {
    size_t used = 0;
    const double x = std::stod(v.value_or(""), &used);
    if (used == v->size()) return x;
  } catch (...) {
  }
  throw UsageError(fmt::format("--{} must be a number, got \"{}\"", name, v.value_or("")));
}

std::string cli_reference_markdown() {
  std::string out =
      "# CLI reference\n\nGenerated from the command table (`lengthbench reference cli > docs/reference/cli.md`); "
      "a test fails when this file and the binary disagree.\n\n";
  for (const auto& command : commands())
    out += fmt::format("## {}\n\n```\n{}\n```\n\n", command.name, command_usage(command));
  return out;
}

}  // namespace lb
