// A small decoder-only, pre-LayerNorm transformer (nanoGPT's shape): token embedding (tied to the
// output head), blocks of causal self-attention + GELU MLP, final LayerNorm. Position information
// comes only from the Encoding plug-in, through its three hooks.
#pragma once
#include <torch/torch.h>
#include <functional>

#include "encodings/encoding.h"
#include "harness/config.h"

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
  RotaryTables q, k;     // undefined tables: no rotation
  double q_scale = 1.0;  // applied to q when there is no rotation (else it is inside q's tables)
  torch::Tensor mask;    // [T, T] or [H, T, T] additive: 0 / -inf causal plus any encoding bias
  RotaryTables q_far, k_far;  // ReRoPE's second rotation, scored where `far` is true
  torch::Tensor far;          // [T, T] bool
  Encoding* contextual = nullptr;  // adds its contextual_logits to the scores (CoPE)
};

// Causal attention of q, k, v [B, H, T, hd] under the position inputs every layer shares:
// rotation (and ReRoPE's second one), scale, mask and bias, contextual logits. -> [B, H, T, hd].
torch::Tensor attend(torch::Tensor q, const torch::Tensor& k, const torch::Tensor& v, const AttentionInputs& in,
                     int64_t layer);

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(const ModelConfig& cfg, int64_t layer);
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in);

 private:
  int64_t heads_, head_dim_, layer_;
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& cfg, int64_t layer);
  torch::Tensor forward(torch::Tensor x, const AttentionInputs& in);

 private:
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  CausalSelfAttention attn_{nullptr};
  torch::nn::Linear fc_{nullptr}, fc_proj_{nullptr};
};
TORCH_MODULE(Block);

class GPTImpl : public torch::nn::Module {
 public:
  GPTImpl(const ModelConfig& cfg, std::shared_ptr<Encoding> encoding);
  // tokens [B, T] int64 -> logits [B, T, vocab] (fp32).
  torch::Tensor forward(const torch::Tensor& tokens);
  Encoding& encoding() { return *encoding_; }
  const ModelConfig& config() const { return cfg_; }
  int64_t parameter_count() const;
  // The position inputs of every layer for sequences of length T, built once per forward pass.
  AttentionInputs attention_inputs(int64_t T, torch::Device device);

 private:
  torch::Tensor attention_mask(const PositionInputs& pos, torch::Device device);

  ModelConfig cfg_;
  std::shared_ptr<Encoding> encoding_;
  torch::nn::Embedding wte_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  PositionTableCache causal_;  // [T, T] 0 / -inf
};
TORCH_MODULE(GPT);

// What probes and task scoring call: tokens [B, T] -> logits [B, T, V] (a model, or a test's stand-in).
using LogitsFn = std::function<torch::Tensor(const torch::Tensor& tokens)>;

// Logits for evaluation and probes: model->forward, except under an exact dynamic scaling
// (Encoding::rescale_chunk), where each chunk of queries is scored on its own prefix.
torch::Tensor inference_logits(GPT& model, const torch::Tensor& tokens);

// Per-token next-token negative log-likelihood: logits [B, T, V], targets [B, T] -> [B, T] fp32.
torch::Tensor token_nll(const torch::Tensor& logits, const torch::Tensor& targets);

// Teacher-forced scoring of the answer tokens of each row (is_answer [B, T] marks them among the
// targets): per row, the summed nll (float64), how many answer tokens, how many the argmax gets
// right, and whether it gets all of them -- exactly what greedy decoding of the answer produces.
struct AnswerScores {
  torch::Tensor nll_sum, answer_tokens, hits, exact;  // [B] each: float64, int64, float64, float64
};
AnswerScores score_answers(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& is_answer);

}  // namespace lb
