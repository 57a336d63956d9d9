#include "harness/eval/suite.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>

#include "harness/core/schema.h"
#include "harness/core/errors.h"

namespace lb {

using nlohmann::json;

EvalOptions eval_options(const Config& c, Protocol protocol, const Compute& compute) {
  EvalOptions eo;
  eo.protocol = protocol;
  eo.stride = c.eval.sliding_stride;
  eo.bucket_width = c.eval_length(c.eval.bucket_width);
  eo.train_length = c.train.length;
  eo.batch_tokens = c.eval.batch_tokens;
  eo.bf16 = compute.bf16;
  eo.device = compute.device;
  return eo;
}

TaskEvalOptions task_eval_options(const Config& c, const Compute& compute) {
  TaskEvalOptions o;
  o.instances = c.data.task.instances;
  o.seed = c.seed;  // evaluation instances come from the config's seed, never a training seed
  o.task = c.data.task;
  o.batch_tokens = c.eval.batch_tokens;
  o.bf16 = compute.bf16;
  o.device = compute.device;
  return o;
}

PasskeyOptions passkey_options(const Config& c, const Corpus& corpus, const Compute& compute) {
  PasskeyOptions po;
  po.tokenizer = corpus.tokenizer;
  po.trials = c.eval.passkey.trials;
  po.depths = c.eval.passkey.depths;
  po.digits = c.eval.passkey.digits;
  po.seed = c.seed;
  po.bf16 = compute.bf16;
  po.device = compute.device;
  return po;
}

int64_t eval_forward_tokens(const Config& c, const EvalSample& sample, Protocol protocol, int64_t T) {
  const auto plan = plan_for(protocol, sample.chunk, T, c.eval.sliding_stride);
  return int64_t(sample.starts.size()) * int64_t(plan.starts.size()) * T;
}

namespace {

json evaluate_text(const Config& c, const std::string& label, GPT& model, const Corpus& corpus,
                   const std::vector<int64_t>& lengths, const EvalSample& sample, const Compute& compute) {
  json results = json::array();
  for (Protocol protocol : c.eval.protocols)
    for (int64_t T : lengths) {
      const auto t0 = std::chrono::steady_clock::now();
      check_interrupt(fmt::format("while evaluating {}", label));
      const EvalResult r = evaluate(model, corpus.held_out, sample, T, eval_options(c, protocol, compute));
      if (!std::isfinite(r.nll))
        throw NumericError(fmt::format("evaluation at T={} ({}) gave a non-finite nll", T, name_of(protocol)));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      spdlog::info("[{}] {} T={}: ppl {:.3f} (nll {:.4f} ± {:.4f}, {} tokens, {:.0f} tok/s)", label, name_of(protocol),
                   T, r.ppl, r.nll, r.nll_stderr, r.tokens, double(r.windows) * T / secs);
      results.push_back(r.to_json());
    }
  return results;
}

// Every task at every length, on instances drawn from the config's seed (not a training seed).
json evaluate_tasks(const Config& c, const std::string& label, GPT& model, const std::vector<int64_t>& lengths,
                    const Compute& compute) {
  const TaskEvalOptions o = task_eval_options(c, compute);
  json results = json::array();
  for (const auto& task : c.data.task.names)
    for (int64_t T : lengths) {
      check_interrupt(fmt::format("while evaluating {}", label));
      json r = evaluate_task(model, task, T, o);
      if (!std::isfinite(r[key::nll].get<double>()))
        throw NumericError(fmt::format("task {} at T={} gave a non-finite nll", task, T));
      spdlog::info("[{}] {} T={}: exact match {:.3f} (answer tokens {:.3f}, nll {:.3f}, {} instances)", label, task, T,
                   r[key::accuracy].get<double>(), r[key::token_accuracy].get<double>(), r[key::nll].get<double>(), o.instances);
      results.push_back(r);
    }
  return results;
}

}  // namespace

json evaluate_model(const Config& c, const std::string& label, GPT& model, const Corpus& corpus,
                    const std::vector<int64_t>& lengths, const EvalSample& sample, const Compute& compute) {
  json out;
  out[key::results] = c.data.is_task() ? evaluate_tasks(c, label, model, lengths, compute)
                                    : evaluate_text(c, label, model, corpus, lengths, sample, compute);
  if (c.eval.passkey.trials > 0) {
    const PasskeyOptions po = passkey_options(c, corpus, compute);
    json passkey = json::array();
    for (int64_t T : lengths)
      for (const auto& r : passkey_probe(model, T, po)) passkey.push_back(r.to_json());
    out[key::passkey] = passkey;
  }
  return out;
}

}  // namespace lb
