#include "harness/run/summary.h"

#include <fmt/format.h>

#include "harness/core/schema.h"
#include "harness/eval/suite.h"

namespace lb {

using nlohmann::json;

json evaluation_summary(const Config& c, const EvalSample& sample, const Corpus& corpus) {
  std::vector<json> sliding_cost;
  for (int64_t T : c.eval_lengths())
    sliding_cost.push_back({{key::eval_length, T},
                            {"forward_tokens_per_scored_token",
                             double(eval_forward_tokens(c, sample, Protocol::kSliding, T)) / double(sample.tokens())}});
  std::vector<std::string> protocols;
  for (Protocol p : c.eval.protocols) protocols.push_back(name_of(p));
  json j = {{key::sample, name_of(sample.kind)},
            {"sample_rule", sample.kind == SampleKind::kStream
                                ? "chunks drawn without replacement from a grid over the concatenated held-out "
                                  "documents (proportional to document length)"
                                : "documents of at least context + chunk + 1 tokens, each truncated to its first "
                                  "context + chunk tokens (the first context tokens only as sliding-window context), "
                                  "drawn without replacement"},
            {key::seed, c.seed},
            {key::chunk_tokens, sample.chunk},
            {"context_tokens", sample.context},
            {key::chunks, sample.starts.size()},
            {"chunk_starts", sample.starts},
            {key::tokens, sample.tokens()},
            {key::documents, sample.documents},
            {"eligible_documents", sample.eligible_documents},
            {key::held_out_documents, corpus.held_out_documents.size()},
            {key::protocols, protocols},
            {key::sliding_stride, c.eval.sliding_stride},
            {"sliding_cost", sliding_cost},
            {"bucket_width", c.eval_length(c.eval.bucket_width)},
            {key::training_seeds, c.training_seeds()},
            {"cluster_unit", sample.unit_rule},
            {"stderr",
             "mean over seeds; se^2 = se_cluster^2 + var_seed/K with se_cluster the CR2 error over the seed-averaged "
             "per-cluster sums, sqrt(sum_g r_g^2 / (1 - n_g/N)) / N with r_g = s_g - n_g*mean (n/a below 2 clusters), "
             "at Bell-McCaffrey degrees of freedom, and var_seed the variance of the K per-seed means (unknown for "
             "K = 1: cells are then conditional on the trained checkpoint); intervals use Student's t, exactly, at "
             "the Satterthwaite degrees of freedom"}};
  if (sample.documents < kFewDocuments)
    j[key::warning] = fmt::format("only {} document(s) in the evaluation sample", sample.documents);
  return j;
}

json task_evaluation_summary(const Config& c) {
  return {{key::sample, "tasks"},
          {"sample_rule", "instances of exactly T + 1 tokens per task and length, generated from the config's seed "
                          "(training instances come from the training seeds)"},
          {key::seed, c.seed},
          {"tasks", c.data.task.names},
          {key::instances, c.data.task.instances},
          {key::protocols, {name_of(Protocol::kTask)}},
          {key::training_seeds, c.training_seeds()},
          {"cluster_unit", "task instance"},
          {"scoring", "teacher-forced argmax on the answer tokens only; an instance is correct when every answer "
                      "token is (what greedy decoding of the answer gives)"},
          {"stderr",
           "mean over seeds; se^2 = se_inst^2 + var_seed/K with se_inst the instance-clustered error of the seed-averaged "
           "per-instance sums and var_seed the variance of the K per-seed means (unknown for K = 1); intervals use "
           "Student's t at the Satterthwaite degrees of freedom"}};
}

}  // namespace lb
