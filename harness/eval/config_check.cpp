#include "harness/eval/config_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>

#include "encodings/registry.h"
#include "harness/eval/windows.h"

namespace lb {

void check_eval_config(Config& c) {
  EvalConfig& e = c.eval;
  require(!e.lengths.empty(), "config key \"eval.lengths\" must list at least one multiple of train.length");
  for (double m : e.lengths)
    require(m > 0 && c.eval_length(m) >= 2,
            fmt::format("config key \"eval.lengths\": {} is not a usable multiple of train.length", m));
  require(!e.protocols.empty(), "config key \"eval.protocols\" must not be empty");
  for (size_t i = 0; i < e.protocols.size(); ++i) {
    const auto& text = text_protocols();
    std::vector<std::string> allowed;
    for (Protocol p : text) allowed.push_back(name_of(p));
    require(std::find(text.begin(), text.end(), e.protocols[i]) != text.end(),
            fmt::format("config key \"eval.protocols[{}]\" is \"{}\"; allowed: {} (task data is scored by its own "
                        "protocol)", i, name_of(e.protocols[i]), fmt::join(allowed, ", ")));
  }
  require(e.sliding_stride >= 0 && e.sliding_stride <= c.train.length,
          fmt::format("config key \"eval.sliding_stride\" must be in [0, train.length = {}] (0 = train.length / 2)",
                      c.train.length));
  if (e.sliding_stride == 0) e.sliding_stride = default_sliding_stride(c.train.length);
  c.resolved["eval"]["sliding_stride"] = e.sliding_stride;
  require_positive("eval.bucket_width", e.bucket_width);
  require_positive("eval.batch_tokens", double(e.batch_tokens));
  require(e.passkey.trials >= 0 && e.passkey.digits >= 1,
          "config keys \"eval.passkey.trials\" (>= 0) and \"eval.passkey.digits\" (>= 1) out of range");
  for (double d : e.passkey.depths)
    require(d >= 0 && d <= 1, fmt::format("config key \"eval.passkey.depths\": {} is not in [0, 1]", d));
  if (std::count(e.protocols.begin(), e.protocols.end(), Protocol::kRecurrent) > 0)
    for (size_t i = 0; i < c.runs.size(); ++i)
      require(encoding_info(c.runs[i].encoding).capabilities.memory,
              fmt::format("config key \"eval.protocols\" includes \"recurrent\", which reads text segment by segment "
                          "with a memory, but runs[{}] (\"{}\", encoding \"{}\") has none; only encodings with memory "
                          "(txl) take it -- evaluate the others in a config of their own", i, c.runs[i].name,
                          c.runs[i].encoding));
  require(!(c.data.is_task() && e.passkey.trials > 0),
          "config key \"eval.passkey.trials\": the passkey probe writes text prompts; task data has the "
          "\"passkey\" task instead (set trials to 0)");
}

}  // namespace lb
