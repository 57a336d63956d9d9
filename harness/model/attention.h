// Causal self-attention under an encoding's position inputs, with the inputs every layer shares
// built once per forward pass (rotary tables, mask and bias, ReRoPE's far pairs, CoPE's hook).
//
// Memory: the scores of one layer are [B, H, T, T]. Training and short evaluation build them
// whole. Under InferenceMode, where they would pass the score budget, queries are scored in blocks
// of rows against the keys they can see (exact: each query's softmax is over all its keys; the
// mask and bias rows of a block are built for that block), so evaluation memory grows linearly
// with T and the masked upper triangle is never computed.
#pragma once
#include <torch/torch.h>
#include <functional>

#include "encodings/encoding.h"

namespace lb {

// Rotary position embedding with half-split pairing (dimension i is rotated with i + head_dim/2,
// as in GPT-NeoX and Llama): out = x * c + swap_halves(x) * s, computed in fp32, returned in x's
// dtype. The full-width tables c = [cos, cos]·m and s = [-sin, sin]·m ([T, head_dim] fp32) are
// built once per forward pass; m folds in xPos's per-position scale and a constant (the
// attention's 1/sqrt(head_dim) for q), so neither costs a separate pass over q or k.
struct RotaryTables {
  torch::Tensor c, s;
};
RotaryTables rotary_tables(const torch::Tensor& cos, const torch::Tensor& sin, const torch::Tensor& scale = {},
                           double multiplier = 1.0);
torch::Tensor rotate(const torch::Tensor& x, const RotaryTables& tables);
// The same in one call, for tests and inspection: x [B, H, T, head_dim].
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           const torch::Tensor& scale = {});

// What every layer's attention needs, built once per forward pass.
struct AttentionInputs {
  RotaryTables q, k;          // undefined tables: no rotation
  double q_scale = 1.0;       // applied to q when there is no rotation (else it is inside q's tables)
  torch::Tensor q_rows;       // [T, 1] per-query multiplier (logN) when there is no rotation; optional
  RotaryTables q_far, k_far;  // ReRoPE's second rotation, scored on the far pairs
  // Whole scores: the additive mask [T, T] or [H, T, T] (0 / -inf causal plus any encoding bias,
  // in the compute dtype) and the far pairs [T, T] bool (undefined: none).
  torch::Tensor mask, far;
  // Query blocks (block > 0 rows): the mask and far pairs of rows [q0, q1) over keys [0, q1).
  int64_t block = 0;
  std::function<std::pair<torch::Tensor, torch::Tensor>(int64_t q0, int64_t q1)> rows;
  Encoding* contextual = nullptr;  // adds its contextual_logits to the scores (CoPE)
  bool plain_causal = false;       // no bias: the mask is the causal one alone
  bool linear = false;             // causal linear attention instead of softmax (no mask, no bias)
};

// logN's per-query logit multiplier max(1, ln(p + 1) / ln L) for positions p = 0 .. T - 1: [T] fp32.
torch::Tensor logn_scale(int64_t T, int64_t train_length, torch::Device device);

// Bytes one layer's scores may take before inference scores queries in blocks.
int64_t attention_score_budget();
// Sets it for the scope's lifetime (tests force blocks on small inputs).
class ScoreBudgetScope {
 public:
  explicit ScoreBudgetScope(int64_t bytes);
  ~ScoreBudgetScope();
  ScoreBudgetScope(const ScoreBudgetScope&) = delete;
  ScoreBudgetScope& operator=(const ScoreBudgetScope&) = delete;

 private:
  int64_t previous_;
};
// The query rows per block for batch B, H heads and length T (0: score all rows at once): blocks
// only under inference, and only where B x H x T x T fp32 scores pass the budget.
int64_t query_block_rows(int64_t B, int64_t heads, int64_t T, bool inference);

// The inputs for a batch of B sequences of length T. `causal` caches the [T, T] causal mask.
AttentionInputs build_attention_inputs(Encoding& encoding, PositionTableCache& causal, int64_t B, int64_t T,
                                       int64_t heads, int64_t head_dim, torch::Device device,
                                       AttentionKind kind = AttentionKind::kSoftmax);

// Causal attention of queries q [B, H, Tq, hd] at positions first_query .. first_query + Tq - 1
// over keys and values k, v [B, H, first_query + Tq, hd] at positions 0 .. (first_query > 0:
// a memory of earlier tokens before the segment): rotation (and ReRoPE's second one), scale, mask
// and bias, contextual logits. The inputs describe all first_query + Tq positions. -> [B, H, Tq, hd].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const AttentionInputs& in,
                     int64_t layer, int64_t first_query = 0);

// Causal linear attention (Katharopoulos et al. 2020): out_i = sum_{j<=i} (a_i . b_j) v_j /
// sum_{j<=i} (c_i . d_j) with a, b the numerator's features (phi(q), phi(k), rotated for RoPE as
// RoFormer does) and c, d the denominator's (phi(q), phi(k), never rotated, so it stays positive),
// phi(x) = elu(x) + 1. Computed in chunks of `chunk` queries: within a chunk the masked quadratic
// form, across chunks the running sums S = sum b_j v_j^T and z = sum d_j -- linear in T.
torch::Tensor linear_attention(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c,
                               const torch::Tensor& d, const torch::Tensor& v, int64_t chunk = 64);

}  // namespace lb
