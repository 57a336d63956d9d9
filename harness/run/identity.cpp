#include "harness/run/identity.h"

#include <fmt/format.h>

#include "harness/core/hash.h"

namespace lb {

using nlohmann::json;

std::string short_hash(const json& j) { return hex64(fnv1a(j.dump())).substr(0, 12); }

std::string unit_name(const std::string& run, uint64_t seed) { return fmt::format("{} seed {}", run, seed); }

json training_identity(const Config& c, const RunSpec& run, int64_t max_length, const Corpus& corpus, bool bf16,
                       uint64_t seed) {
  const auto& r = c.resolved;
  json data = r["data"];
  json train = r["train"];
  train.erase("fuse_seeds");  // how the seeds were scheduled, not what they learned
  // Keys that text data leaves at their defaults stay out, so checkpoints from before they existed
  // are still found.
  if (!c.data.is_task()) data.erase("task");
  if (c.data.passkey_mix == 0) data.erase("passkey_mix");
  data.erase("eval_tokens");
  data.erase("cache_dir");
  // The data itself, not just its settings: a retrained tokenizer or changed source files give
  // different token ids, so a checkpoint trained on the old ones must not be reused.
  data["tokenizer_model_hash"] = corpus.summary["tokenizer"].value("model_hash", "");
  data["source_fingerprint"] = corpus.summary.value("source_fingerprint", "");
  // Bump kModelVersion whenever model or encoding arithmetic changes, so old checkpoints are not
  // silently reused for a different model.
  constexpr int kModelVersion = 5;  // 5: the recipe keys (tie_embeddings, embedding_std); 4: FIRE, KERPLE as their references
  json identity = {{"version", kModelVersion},  {"model", r["model"]}, {"train", train},
                   {"data", data},              {"seed", seed},
                   {"precision", bf16 ? "bf16" : "fp32"},  {"encoding", run.encoding},
                   {"encoding_options", run.encoding_options}, {"max_length", max_length}};
  // Softmax attention stays out, so identities from before the key existed are unchanged.
  if (run.attention != AttentionKind::kSoftmax) identity["attention"] = name_of(run.attention);
  return identity;
}

json finetune_identity(const json& base_identity, const RunSpec& run) {
  json identity = {{"base", base_identity}, {"finetune", run.entry["finetune"]}, {"scaling", run.scaling.method},
                   {"factor", run.entry["factor"]}, {"scaling_options", run.scaling.options}};
  // Fine-tuning rotates at the scaling as applied; kv_cache stays out when off (older identities).
  if (run.scaling.kv_cache) identity["kv_cache"] = true;
  return identity;
}

std::string trained_model_id(const json& identity, const RunSpec& run, const std::vector<uint64_t>& seeds) {
  json model = identity;
  model.erase("seed");  // replaced by the run's list of seeds
  const bool tuned = run.finetune.steps > 0;
  const json trained = {
      {"model", model},
      {"seeds", seeds},
      {"finetune", tuned ? run.entry["finetune"] : json(nullptr)},
      {"finetune_scaling", tuned ? json({run.scaling.method, run.entry["factor"], run.scaling.options}) : json(nullptr)}};
  return short_hash(trained);
}

}  // namespace lb
