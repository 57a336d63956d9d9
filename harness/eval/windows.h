// Which held-out tokens the evaluation scores, and how each length's windows cover them.
// Torch-free and deterministic, so reports can be re-checked without the model code.
//
// The sample is a set of chunks of C tokens, C the least common multiple of the eval lengths,
// so that every length scores exactly the same tokens: each chunk is cut into windows of T
// (non-overlapping), or scored by windows of T sliding by S whose first window reaches T - S
// tokens back before the chunk (every chunk keeps P = max(T) - S tokens of context in front of
// it), so every token scored under sliding has at least T - S tokens of context. Chunks come from
// the whole held-out split (EvalSample), and every scored token is attributed to the held-out
// document it belongs to: the unit errors are clustered by.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/config/vocab.h"

namespace lb {

// Windows covering [0, tokens) for length T: each has a start offset and the first window
// position it scores (earlier positions only give context).
struct WindowPlan {
  std::vector<int64_t> starts;
  std::vector<int64_t> score_from;
};
// "nonoverlapping": windows at 0, T, 2T, ...; "sliding": at 0, S, 2S, ... each scoring only the
// tokens the previous window did not. A final window flush with the end when the stride does not
// land there. Every token in [0, tokens) is scored exactly once.
WindowPlan plan_windows(Protocol protocol, int64_t tokens, int64_t T, int64_t stride);

// Windows of T sliding by S that score exactly [0, chunk) of a chunk with T - S tokens of context
// before it: window starts are relative to the chunk (the first is S - T, i.e. before it).
WindowPlan plan_sliding_with_context(int64_t chunk, int64_t T, int64_t stride);

// The windows a text protocol scores one chunk of the evaluation sample with (window starts
// relative to the chunk): sliding with context, or non-overlapping. What the evaluator runs and
// what cost estimates count.
WindowPlan plan_for(Protocol protocol, int64_t chunk, int64_t T, int64_t stride);

// The sliding stride used when eval.sliding_stride is 0: half the training length, so that at
// T = L every scored token sees at least L/2 tokens of context.
int64_t default_sliding_stride(int64_t train_length);

// Sample kinds (eval.sample):
//   "stream":    chunks at random positions of the concatenated held-out documents (a grid of
//                C-token slots from position P on, the last one flush with the end, drawn
//                without replacement): documents are represented in proportion to their length;
//                chunks (and their context) may span two.
//   "documents": the long-context papers' protocol (YaRN, LongRoPE): only documents of at least
//                P + C + 1 tokens, each truncated to its first P + C tokens (the first P are
//                context only; P = 0 without sliding), one chunk per document, drawn without
//                replacement. Every length sees the same documents.
struct EvalSample {
  SampleKind kind = SampleKind::kStream;
  int64_t chunk = 0;                  // C
  int64_t context = 0;                // P: tokens before each chunk that sliding windows may read
  std::vector<int64_t> starts;        // chunk starts in the held-out stream, ascending
  std::vector<int64_t> document_starts;  // the held-out documents (copied from the corpus)
  int64_t eligible_documents = 0;     // documents a chunk could come from
  int64_t documents = 0;              // distinct documents with scored tokens
  std::string unit = "document";      // the cluster unit: "document", or "block" (cluster_unit below)
  std::string unit_rule = "held-out documents";
  int64_t tokens() const { return chunk * int64_t(starts.size()); }
};

int64_t lcm_of(const std::vector<int64_t>& lengths);

// Draws at most budget / C chunks (at least one) with a generator seeded by `seed`, each with
// `context` tokens before it. Throws std::invalid_argument saying what is needed when the
// held-out split cannot give one chunk.
EvalSample sample_evaluation(SampleKind kind, int64_t held_out_tokens,
                             const std::vector<int64_t>& document_starts, const std::vector<int64_t>& lengths,
                             int64_t budget, uint64_t seed, int64_t context = 0);

// The clusters errors are computed over: the held-out documents as the corpus gives them
// (data.document_separator cuts them further when the cache is built), or contiguous blocks of
// data.cluster_tokens tokens -- always when it is set, and at 8x `longest_window` when the held-out
// split holds fewer than 2 documents (batch means: blocks long enough for dependence to decay).
struct ClusterUnit {
  std::vector<int64_t> starts;
  std::string name;  // "document" | "block"
  std::string rule;  // for the report
};
// `cluster_tokens`: data.cluster_tokens; `separator`: data.document_separator, named in the rule.
ClusterUnit cluster_unit(int64_t cluster_tokens, const std::string& separator, const std::vector<int64_t>& document_starts,
                         int64_t held_out_tokens, int64_t longest_window);

// Index of the document holding stream position `position`.
int64_t document_of(const std::vector<int64_t>& document_starts, int64_t position);

}  // namespace lb
