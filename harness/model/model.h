// A small decoder-only, pre-LayerNorm transformer (nanoGPT's shape): token embedding (tied to the
// output head), blocks of causal self-attention + GELU MLP, final LayerNorm. Position information
// comes only from the Encoding plug-in, through its three hooks.
#pragma once
#include <torch/torch.h>
#include <functional>

#include "encodings/encoding.h"
#include "harness/model/attention.h"
#include "harness/config/config.h"

namespace lb {

// The weights of one block as views of its parameters: [out, in] matrices and [C] LayerNorm
// vectors for one model, or the same with a leading seed dimension S for S stacked models
// (harness/model/fused.h). The block math below is written once for both.
struct BlockWeights {
  torch::Tensor ln1_weight, ln1_bias, qkv, proj, ln2_weight, ln2_bias, fc, fc_proj;
};
struct GPTWeights {
  torch::Tensor wte;   // [V, C] or [S, V, C]
  torch::Tensor head;  // the output head, same shape as wte; undefined when tied to wte
  std::vector<BlockWeights> blocks;
  torch::Tensor ln_f_weight, ln_f_bias;
  // Calls f on every weight, in one fixed order (stacking, copying back, optimiser groups).
  template <class Self, class F>
  static void each(Self& w, F&& f) {
    f(w.wte);
    if (w.head.defined()) f(w.head);
    for (auto& b : w.blocks) {
      f(b.ln1_weight), f(b.ln1_bias), f(b.qkv), f(b.proj), f(b.ln2_weight), f(b.ln2_bias), f(b.fc), f(b.fc_proj);
    }
    f(w.ln_f_weight), f(w.ln_f_bias);
  }
  const torch::Tensor& output_head() const { return head.defined() ? head : wte; }
  std::vector<torch::Tensor> list() const {
    std::vector<torch::Tensor> out;
    each(*this, [&](const torch::Tensor& t) { out.push_back(t); });
    return out;
  }
};

// x [..., in] times w transposed: w [out, in], or [S, out, in] with x [S, ..., in].
torch::Tensor weights_linear(const torch::Tensor& x, const torch::Tensor& w);
// LayerNorm over the last dimension with weight and bias [C], or [S, C] with x [S, ..., C].
torch::Tensor weights_layer_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
// Token embedding: tokens [B, T] with wte [V, C], or tokens [S, B, T] with wte [S, V, C] (seed s
// reads its own table) -> [..., T, C].
torch::Tensor embed_tokens(const torch::Tensor& tokens, const torch::Tensor& wte);
// One pre-LN block: x + attention(ln1(x)), then + MLP(ln2(x)). x [B, T, C], or [S, B, T, C].
// `memory` [B, M, C] (optional, one model only): this layer's input hidden states of the M tokens
// before the segment, attended to as extra keys and values (Transformer-XL; `in` then describes
// M + T positions).
torch::Tensor block_forward(const torch::Tensor& x, const BlockWeights& w, const AttentionInputs& in, int64_t layer,
                            int64_t heads, const torch::Tensor& memory = {});
// Every block, then the final LayerNorm.
torch::Tensor transformer_body(torch::Tensor x, const GPTWeights& w, const AttentionInputs& in, int64_t heads);
// The output head (wte or its own matrix) -> fp32 logits. Training keeps autocast's dtype for the product; evaluation
// computes it in fp32 (bf16 would round logits by up to 0.06 before the log-softmax).
torch::Tensor lm_head(const torch::Tensor& x, const torch::Tensor& wte, bool training);

// The modules own and name the parameters ("blocks.0.attn.qkv.weight": the checkpoint keys).
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const ModelConfig& cfg);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& cfg, int64_t layer);
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in);
  BlockWeights weights() const;

 private:
  int64_t heads_, layer_;
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  CausalSelfAttention attn_{nullptr};
  torch::nn::Linear fc_{nullptr}, fc_proj_{nullptr};
};
TORCH_MODULE(Block);

class GPTImpl : public torch::nn::Module {
 public:
  GPTImpl(const ModelConfig& cfg, std::shared_ptr<Encoding> encoding);
  // tokens [B, T] int64 -> logits [B, T, vocab] (fp32). A model whose encoding has memory reads a
  // sequence longer than L in segments of L with memory when training or recurrent() is set.
  torch::Tensor forward(const torch::Tensor& tokens);
  // The recurrent protocol: read sequences segment by segment with memory (encodings with memory).
  void set_recurrent(bool recurrent) { recurrent_ = recurrent; }
  bool recurrent() const { return recurrent_; }
  Encoding& encoding() { return *encoding_; }
  const ModelConfig& config() const { return cfg_; }
  int64_t parameter_count() const;
  // The position inputs of every layer for B sequences of length T, built once per forward pass.
  AttentionInputs attention_inputs(int64_t B, int64_t T, torch::Device device);
  // Views of every weight (BlockWeights above).
  GPTWeights weights() const;

 private:
  torch::Tensor forward_segments(const torch::Tensor& tokens, const GPTWeights& w);

  ModelConfig cfg_;
  bool recurrent_ = false;
  std::shared_ptr<Encoding> encoding_;
  torch::nn::Embedding wte_{nullptr};
  torch::Tensor head_;  // the untied output head ("head"), undefined when tied
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
