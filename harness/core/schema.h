// The report's schema (report.json, "lengthbench.report.v1"): every key, once. Producers (the
// evaluator, the trainer's statistics, the runner) write with these names and consumers
// (statistics, tables, claims, markdown, plots, merge) read with them, so a key is spelled in
// one place and a misspelling does not compile. The table also writes docs/report-format.md
// (`lengthbench schema`). Here in core because producers sit in the layers below report/.
//
// LB_REPORT_KEYS(X): X(identifier, "key", "where it appears: what it holds").
#pragma once
#include <vector>

namespace lb {

#define LB_REPORT_KEYS(X)                                                                                             \
  /* the report */                                                                                                  \
  X(schema, "schema", "report: the schema tag, lengthbench.report.v1")                                              \
  X(name, "name", "report: the config's name; run: the run's name")                                                 \
  X(status, "status", "report, run, seed record: complete | incomplete | failed")                                   \
  X(config, "config", "report: the fully resolved configuration (every key, defaults filled)")                      \
  X(environment, "environment", "report: what ran the numbers (libtorch, threads, BLAS, CPU, host, commit)")        \
  X(data, "data", "report: the corpus (source, tokenizer, documents, split, token counts); config: its section")    \
  X(evaluation, "evaluation", "report: the evaluation sample and how errors are computed")                          \
  X(runs, "runs", "report: the run entries in config order; config: the run list; shard: the units it ran")         \
  X(estimate, "estimate", "report: the time estimate made before training")                                         \
  X(shard, "shard", "report: which slice of the config a shard ran (index, count, runs)")                           \
  X(shards, "shards", "merged report: the shard reports it joined")                                                  \
  X(data_parallel, "data_parallel", "report: world_size, backend and global_batch of data-parallel training")       \
  X(failed_runs, "failed_runs", "report: names of the runs that failed")                                            \
  X(seconds, "seconds", "report: wall time; train statistics: training time")                                       \
  X(claims, "claims", "report: one verdict per claim; config: the claims")                                          \
  X(claims_error, "claims_error", "report: why the claims could not be checked")                                    \
  X(plots, "plots", "report: the PNG files written")                                                                \
  /* a run entry */                                                                                                 \
  X(encoding, "encoding", "run: the trained-in encoding")                                                           \
  X(attention, "attention", "run: linear when the run uses linear attention (absent: softmax)")                     \
  X(scaling, "scaling", "run: the inference-time scaling (none for plain models)")                                  \
  X(factor, "factor", "run: the scaling factor s, \"auto\", or null")                                               \
  X(scaling_options, "scaling_options", "run: the scaling's options, defaults filled")                              \
  X(encoding_options, "encoding_options", "run: the encoding's options as given")                                   \
  X(train_length, "train_length", "run: L, the training length")                                                    \
  X(parameters, "parameters", "run, seed record: trained parameter count")                                          \
  X(trained_model, "trained_model", "run: id of the weights it evaluates, over its seeds (equal ids: same weights)") \
  X(seeds, "seeds", "run: per-seed records; result cell: the seeds it averages")                                   \
  X(results, "results", "run: result cells (mean over seeds); seed record: that seed's results")                   \
  X(passkey, "passkey", "run, seed record: passkey probe results per length and depth")                            \
  X(train, "train", "run: mean loss and speed over seeds; seed record: training statistics; config: its section")  \
  X(peak_rss_mb, "peak_rss_mb", "run, seed record: peak resident memory of the process so far, MiB")               \
  X(notes, "notes", "run, seed record: what the encoding or scaling does past L, and its cost")                     \
  X(error, "error", "run, seed record: why it failed")                                                              \
  /* a seed record */                                                                                               \
  X(seed, "seed", "seed record: the training seed; evaluation: the sample's seed")                                  \
  X(checkpoint, "checkpoint", "seed record: the checkpoint name of the trained model")                              \
  X(finetune, "finetune", "seed record: fine-tuning statistics (with length and batch_size)")                       \
  X(eval_seconds, "eval_seconds", "seed record: evaluation time")                                                   \
  /* training statistics */                                                                                         \
  X(steps, "steps", "train statistics: optimiser steps")                                                            \
  X(tokens, "tokens", "train statistics: tokens trained on; result: tokens scored; per_document: per document")     \
  X(tokens_per_second, "tokens_per_second", "train statistics: training throughput")                                \
  X(final_loss, "final_loss", "train statistics: the last logged training loss")                                    \
  X(first_loss, "first_loss", "train statistics: the loss of the first step")                                       \
  X(fused_seeds, "fused_seeds", "train statistics: the seeds trained fused with this one")                          \
  X(length, "length", "fine-tune statistics: tokens per window; claim side: multiple of L")                         \
  X(batch_size, "batch_size", "fine-tune statistics: windows per step")                                             \
  /* a result cell */                                                                                               \
  X(eval_length, "eval_length", "result, passkey: T, the evaluation length in tokens")                              \
  X(protocol, "protocol", "result, claim: nonoverlapping | sliding | task")                                         \
  X(task, "task", "result, claim: the task (task data)")                                                            \
  X(ppl, "ppl", "result: exp(nll)")                                                                                 \
  X(nll, "nll", "result: mean negative log-likelihood per scored token, nats")                                      \
  X(nll_stderr, "nll_stderr", "result: its standard error (document-clustered, plus seeds); null when unknown")     \
  X(windows, "windows", "result: windows run")                                                                      \
  X(last_l_nll, "last_l_nll", "result: mean nll over the last L positions of each window")                          \
  X(last_l_ppl, "last_l_ppl", "result: exp(last_l_nll)")                                                            \
  X(last_l_tokens, "last_l_tokens", "result: tokens in that view")                                                  \
  X(buckets, "buckets", "result: mean nll per block of window positions (start, end, nll, tokens)")                 \
  X(curve, "curve", "result: [position, mean nll] in about 64 bins per window")                                     \
  X(per_document, "per_document", "result: per-cluster sums the errors and paired comparisons are computed from")   \
  X(accuracy, "accuracy", "task result: exact match per instance; passkey: retrieved / trials")                     \
  X(accuracy_stderr, "accuracy_stderr", "task result: its standard error")                                          \
  X(token_accuracy, "token_accuracy", "task result: share of answer tokens right")                                  \
  X(token_accuracy_stderr, "token_accuracy_stderr", "task result: its standard error")                              \
  X(instances, "instances", "task result: instances scored")                                                        \
  X(stderr_parts, "stderr_parts", "result: the error's parts (cluster and seed terms, counts, df)")                 \
  X(start, "start", "bucket: first window position")                                                                \
  X(end, "end", "bucket: one past its last position")                                                               \
  /* per-cluster sums */                                                                                            \
  X(ids, "ids", "per_document: cluster ids (held-out document or task instance)")                                   \
  X(nll_sum, "nll_sum", "per_document: summed nll of each cluster's scored tokens")                                 \
  X(unit, "unit", "per_document: document (default) or instance")                                                   \
  X(accuracy_sum, "accuracy_sum", "per_document (tasks): exact matches per instance")                               \
  X(sequences, "sequences", "per_document (tasks): instances per cluster (1)")                                      \
  X(token_accuracy_sum, "token_accuracy_sum", "per_document (tasks): answer tokens right")                          \
  X(cluster_count, "cluster_count", "stderr_parts: clusters (documents or instances)")                              \
  X(cluster_df, "cluster_df", "stderr_parts: Bell-McCaffrey degrees of freedom of the cluster part (CR2)")          \
  X(seed_count, "seed_count", "stderr_parts: seeds")                                                                \
  X(df, "df", "stderr_parts, claim: degrees of freedom (Satterthwaite)")                                            \
  /* the passkey probe */                                                                                           \
  X(depth, "depth", "passkey: where in the filler the key sits (0 = start)")                                        \
  X(trials, "trials", "passkey: prompts")                                                                           \
  X(retrieved, "retrieved", "passkey: prompts whose key every greedy token got right")                              \
  X(digit_nll, "digit_nll", "passkey: mean nll of the key's tokens")                                                \
  /* a claim and its verdict */                                                                                     \
  X(claim, "claim", "claim: the claim in words")                                                                    \
  X(left, "left", "claim: {run, length}, the side the claim is about")                                              \
  X(right, "right", "claim: {run, length}, what it is compared with")                                               \
  X(run, "run", "claim side: a run name")                                                                           \
  X(op, "op", "claim: < | > | <= | ~")                                                                              \
  X(margin, "margin", "claim: nats, for < > <=")                                                                    \
  X(tolerance, "tolerance", "claim: nats, for ~")                                                                   \
  X(metric, "metric", "claim: nll | accuracy | token_accuracy")                                                     \
  X(difference, "difference", "verdict: left - right, per token (nats) or in accuracy")                             \
  X(stderr_, "stderr", "verdict: the difference's standard error; evaluation: how errors are computed")             \
  X(critical_value, "critical_value", "verdict: the t quantile the interval uses")                                  \
  X(stderr_kind, "stderr_kind", "verdict: what the error is paired by")                                             \
  X(same_model, "same_model", "verdict: both sides evaluate the same weights")                                      \
  X(reason, "reason", "verdict: why there is no honest error")                                                      \
  X(verdict, "verdict", "verdict: held | not held | inconclusive | underpowered, after Holm over the report's claims") \
  X(verdict_uncorrected, "verdict_uncorrected", "verdict: the same before the family correction")                  \
  X(correction, "correction", "verdict: the family correction applied")                                            \
  X(p_held, "p_held", "verdict: one-sided p-value of the claim holding (uncorrected)")                              \
  X(p_not_held, "p_not_held", "verdict: one-sided p-value of the claim failing (uncorrected)")                      \
  X(p_held_holm, "p_held_holm", "verdict: p_held, Holm-adjusted")                                                   \
  X(p_not_held_holm, "p_not_held_holm", "verdict: p_not_held, Holm-adjusted")                                       \
  X(detectable, "detectable", "verdict: smallest effect (or margin/tolerance for <= and ~) seen at 80% power")      \
  X(power, "power", "verdict: power at the effect power_for names")                                                 \
  X(power_for, "power_for", "verdict: the paper's effect, the effect observed, or a true difference of 0")          \
  X(seeds_needed, "seeds_needed", "verdict: training seeds for 80% power at that effect")                           \
  X(seeds_needed_note, "seeds_needed_note", "verdict: why no seed count is given")                                  \
  X(effect, "effect", "claim: the paper's effect in nats, in the claim's direction (for power)")                    \
  X(source, "source", "claim: the paper's sentence the claim encodes")                                              \
  /* the evaluation block */                                                                                        \
  X(sample, "sample", "evaluation: stream | documents | tasks")                                                     \
  X(training_seeds, "training_seeds", "evaluation: the seeds every run trains with")                                \
  X(protocols, "protocols", "evaluation: the protocols scored; config eval: the same")                              \
  X(warning, "warning", "evaluation: too few documents for trustworthy errors")                                     \
  X(documents, "documents", "evaluation: distinct documents with scored tokens")                                    \
  X(chunks, "chunks", "evaluation: chunks in the sample")                                                           \
  X(chunk_tokens, "chunk_tokens", "evaluation: tokens per chunk (a multiple of every eval length)")                 \
  X(held_out_documents, "held_out_documents", "evaluation: documents in the held-out split")                        \
  X(sliding_stride, "sliding_stride", "evaluation, config eval: the sliding stride S, tokens")                      \
  /* the environment block */                                                                                       \
  X(libtorch, "libtorch", "environment: libtorch version")                                                          \
  X(threads, "threads", "environment: cores given to the run")                                                      \
  X(device, "device", "environment: cpu | cuda")                                                                    \
  X(blas, "blas", "environment: the BLAS libtorch loaded")                                                          \
  X(cpu, "cpu", "environment: the CPU model")                                                                       \
  X(host, "host", "environment: host name")                                                                         \
  X(git_commit, "git_commit", "environment: the commit built (-dirty: with uncommitted changes)")                   \
  X(precision, "precision", "environment: the precision choice (requested, effective, reason); config: requested")  \
  X(effective, "effective", "environment precision: bf16 | fp32, what ran")                                         \
  /* config keys reports are read by (the config's own field list defines them) */                                 \
  X(eval, "eval", "config: the eval section")                                                                       \
  X(model, "model", "config: the model section")                                                                    \
  X(description, "description", "config: what the experiment is")                                                  \
  X(path, "path", "config data: the corpus path")                                                                   \
  X(lengths, "lengths", "config eval: eval lengths as multiples of L")                                              \
  X(names, "names", "config data.task: the tasks")                                                                  \
  X(index, "index", "shard: i of i/N")                                                                              \
  X(count, "count", "shard: N of i/N")

namespace key {
#define LB_REPORT_KEY_CONSTANT(id, text, meaning) inline constexpr const char* id = text;
LB_REPORT_KEYS(LB_REPORT_KEY_CONSTANT)
#undef LB_REPORT_KEY_CONSTANT
}  // namespace key

struct ReportKey {
  const char* name;
  const char* meaning;
};
// Every key with its meaning, in schema order.
inline const std::vector<ReportKey>& report_keys() {
#define LB_REPORT_KEY_ENTRY(id, text, meaning) {text, meaning},
  static const std::vector<ReportKey> keys = {LB_REPORT_KEYS(LB_REPORT_KEY_ENTRY)};
#undef LB_REPORT_KEY_ENTRY
  return keys;
}

}  // namespace lb
