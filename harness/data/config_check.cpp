#include "harness/data/config_check.h"

#include <fmt/format.h>
#include <algorithm>
#include <regex>

#include "harness/data/tasks.h"

namespace lb {

void check_data_config(const Config& c) {
  const DataConfig& d = c.data;
  require(d.held_out_fraction > 0 && d.held_out_fraction < 1, "config key \"data.held_out_fraction\" must be in (0, 1)");
  require_positive("data.eval_tokens", double(d.eval_tokens));
  const auto& tok = d.tokenizer;
  require(tok.kind != TokenizerKind::kBytes || tok.model.empty(),
          "config key \"data.tokenizer.model\" is set but data.tokenizer.kind is \"bytes\" "
          "(set kind to \"sentencepiece\" to use the model)");
  require(tok.type == "unigram" || tok.type == "bpe",
          fmt::format("config key \"data.tokenizer.type\" is \"{}\"; allowed: unigram, bpe", tok.type));
  require(tok.vocab_size >= 300 && tok.vocab_size <= 65536,
          fmt::format("config key \"data.tokenizer.vocab_size\" must be in [300, 65536] (byte fallback takes 256 "
                      "ids), got {}", tok.vocab_size));
  require_positive("data.tokenizer.max_sentences", double(tok.max_sentences));

  const TaskConfig& t = d.task;
  for (size_t i = 0; i < t.names.size(); ++i) {
    const std::string& name = t.names[i];
    const auto names = task_names();
    require(std::find(names.begin(), names.end(), name) != names.end(),
            fmt::format("config key \"data.task.names[{}]\" is \"{}\"; allowed: {}", i, name, fmt::join(names, ", ")));
    const int64_t shortest = std::llround(t.min_length * double(c.train.length)) + 1;
    require(task_info(name).min_length <= shortest,
            fmt::format("config key \"data.task.min_length\": task \"{}\" needs instances of at least {} tokens, "
                        "but {} x train.length gives {}", name, task_info(name).min_length, t.min_length, shortest));
  }
  if (std::count(t.names.begin(), t.names.end(), "count") > 0) {
    double longest = 0;
    for (double m : c.eval.lengths) longest = std::max(longest, m);
    require(std::llround(longest * double(c.train.length)) + 1 <= 1005,
            "config key \"eval.lengths\": task \"count\" writes counts in 3 digits, so instances are at most 1005 "
            "tokens; lower the longest eval length or train.length");
  }
  require(t.instances >= 2, "config key \"data.task.instances\" must be >= 2 (errors need 2 instances)");
  require(t.min_length > 0 && t.min_length <= 1,
          "config key \"data.task.min_length\" must be in (0, 1] (a fraction of train.length)");
  require(t.queries >= 1 && t.distractors >= 0,
          "config keys \"data.task.queries\" >= 1 and \"data.task.distractors\" >= 0");
  require(d.passkey_mix >= 0 && d.passkey_mix < 1, "config key \"data.passkey_mix\" must be in [0, 1)");
  require(!(d.is_task() && d.passkey_mix > 0),
          "config key \"data.passkey_mix\" mixes passkey prompts into text; with data.task.names the data is "
          "tasks already");
  require(d.cluster_tokens >= 0, "config key \"data.cluster_tokens\" must be >= 0 (0: 8x the longest evaluation window)");
  if (!d.document_separator.empty()) {
    try {
      std::regex check(d.document_separator, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw ConfigError(fmt::format("config key \"data.document_separator\" is not a valid ECMAScript regex ({}): {}",
                                    e.what(), d.document_separator));
    }
  }
}

}  // namespace lb
