#include "harness/model/model.h"

#include <ATen/autocast_mode.h>
#include <cmath>

#include "harness/model/kernels.h"
#include "harness/model/matmul.h"
#include "harness/model/precision.h"

namespace lb {

namespace F = torch::nn::functional;

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelConfig& cfg) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(cfg.d_model, 3 * cfg.d_model).bias(false)));
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(cfg.d_model, cfg.d_model).bias(false)));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(qkv->weight, 0.0, 0.02);
  torch::nn::init::normal_(proj->weight, 0.0, 0.02 / std::sqrt(2.0 * cfg.layers));
}

torch::Tensor weights_linear(const torch::Tensor& x, const torch::Tensor& w) {
  if (w.dim() == 2) return lb::linear(x, w);
  auto sizes = x.sizes().vec();
  sizes.back() = w.size(1);
  return lb::matmul(x.reshape({w.size(0), -1, x.size(-1)}), w.transpose(1, 2)).view(sizes);
}

torch::Tensor weights_layer_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const int64_t C = x.size(-1);
  if (weight.dim() == 1) return F::layer_norm(x, F::LayerNormFuncOptions({C}).weight(weight).bias(bias));
  std::vector<int64_t> shape(size_t(x.dim()), 1);  // [S, 1, ..., C]
  shape.front() = weight.size(0);
  shape.back() = C;
  return torch::addcmul(bias.view(shape), F::layer_norm(x, F::LayerNormFuncOptions({C})), weight.view(shape));
}

torch::Tensor embed_tokens(const torch::Tensor& tokens, const torch::Tensor& wte) {
  if (wte.dim() == 2) return F::embedding(tokens, wte);
  const int64_t S = wte.size(0), V = wte.size(1), C = wte.size(2);
  // Seed s's token t is row s * V + t of the stacked table.
  auto rows = (tokens + torch::arange(S, tokens.options()).view({S, 1, 1}) * V).flatten();
  auto sizes = tokens.sizes().vec();
  sizes.push_back(C);
  return wte.reshape({S * V, C}).index_select(0, rows).view(sizes);
}

torch::Tensor block_forward(const torch::Tensor& input, const BlockWeights& w, const AttentionInputs& in, int64_t layer,
                            int64_t heads, const torch::Tensor& memory) {
  const int64_t T = input.size(-2), C = input.size(-1), hd = C / heads;
  const int64_t M = memory.defined() ? memory.size(1) : 0;
  const auto keys_in = M > 0 ? torch::cat({memory, input}, 1) : input;
  // unbind, not indexing: its backward stacks the three gradients instead of scattering each
  // into a zero-filled copy of the whole qkv tensor. q, k, v: [N, H, M + T, hd], N = B (or S * B).
  auto qkv = weights_linear(weights_layer_norm(keys_in, w.ln1_weight, w.ln1_bias), w.qkv)
                 .view({-1, M + T, 3, heads, hd})
                 .permute({2, 0, 3, 1, 4})
                 .unbind(0);
  const auto q = M > 0 ? qkv[0].narrow(2, M, T) : qkv[0];
  auto y = attend(q, qkv[1], qkv[2], in, layer, M);  // [N, H, T, hd]
  auto x = input + weights_linear(y.transpose(1, 2).reshape(input.sizes()), w.proj);
  return x + weights_linear(lb::gelu(weights_linear(weights_layer_norm(x, w.ln2_weight, w.ln2_bias), w.fc)), w.fc_proj);
}

torch::Tensor transformer_body(torch::Tensor x, const GPTWeights& w, const AttentionInputs& in, int64_t heads) {
  for (size_t i = 0; i < w.blocks.size(); ++i) x = block_forward(x, w.blocks[i], in, int64_t(i), heads);
  return weights_layer_norm(x, w.ln_f_weight, w.ln_f_bias);
}

torch::Tensor lm_head(const torch::Tensor& x, const torch::Tensor& wte, bool training) {
  if (training) return weights_linear(x, wte).to(torch::kFloat32);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKeySet({c10::DispatchKey::AutocastCPU, c10::DispatchKey::AutocastCUDA}));
  return weights_linear(x.to(torch::kFloat32), wte);
}

BlockImpl::BlockImpl(const ModelConfig& cfg, int64_t layer) : heads_(cfg.heads), layer_(layer) {
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.d_model})));
  attn_ = register_module("attn", CausalSelfAttention(cfg));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.d_model})));
  const int64_t hidden = cfg.mlp_ratio * cfg.d_model;
  fc_ = register_module("fc", torch::nn::Linear(torch::nn::LinearOptions(cfg.d_model, hidden).bias(false)));
  fc_proj_ = register_module("fc_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, cfg.d_model).bias(false)));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(fc_->weight, 0.0, 0.02);
  torch::nn::init::normal_(fc_proj_->weight, 0.0, 0.02 / std::sqrt(2.0 * cfg.layers));
}

BlockWeights BlockImpl::weights() const {
  return {ln1_->weight, ln1_->bias, attn_->qkv->weight, attn_->proj->weight,
          ln2_->weight, ln2_->bias, fc_->weight,        fc_proj_->weight};
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  return block_forward(x, weights(), in, layer_, heads_);
}

GPTImpl::GPTImpl(const ModelConfig& cfg, std::shared_ptr<Encoding> encoding)
    : cfg_(cfg), encoding_(std::move(encoding)) {
  wte_ = register_module("wte", torch::nn::Embedding(cfg.vocab, cfg.d_model));
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(wte_->weight, 0.0, cfg.embedding_std);
  }
  if (!cfg.tie_embeddings) head_ = register_parameter("head", torch::randn({cfg.vocab, cfg.d_model}) * 0.02);
  register_module("encoding", encoding_);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.layers; ++i) blocks_->push_back(Block(cfg, i));
  ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.d_model})));
}

AttentionInputs GPTImpl::attention_inputs(int64_t B, int64_t T, torch::Device device) {
  return build_attention_inputs(*encoding_, causal_, B, T, cfg_.heads, cfg_.d_model / cfg_.heads, device,
                                cfg_.attention);
}

GPTWeights GPTImpl::weights() const {
  GPTWeights w;
  w.wte = wte_->weight;
  w.head = head_;
  for (const auto& block : *blocks_) w.blocks.push_back(block->as<Block>()->weights());
  w.ln_f_weight = ln_f_->weight;
  w.ln_f_bias = ln_f_->bias;
  return w;
}

torch::Tensor GPTImpl::forward_segments(const torch::Tensor& tokens, const GPTWeights& w) {
  const int64_t L = encoding_->spec().train_length, M = encoding_->memory_length(), B = tokens.size(0);
  std::vector<torch::Tensor> memory(w.blocks.size()), parts;
  for (int64_t s0 = 0; s0 < tokens.size(1); s0 += L) {
    const auto segment = tokens.narrow(1, s0, std::min(L, tokens.size(1) - s0));
    auto x = encoding_->embed(embed_tokens(segment, w.wte));
    const int64_t held = memory[0].defined() ? memory[0].size(1) : 0;
    const AttentionInputs in = attention_inputs(B, held + segment.size(1), tokens.device());
    for (size_t l = 0; l < w.blocks.size(); ++l) {
      const auto input = x;
      x = block_forward(x, w.blocks[l], in, int64_t(l), cfg_.heads, memory[l]);
      // The last M inputs of this layer, without gradient: the next segment's memory.
      const auto all = memory[l].defined() ? torch::cat({memory[l], input}, 1) : input;
      memory[l] = all.narrow(1, std::max<int64_t>(0, all.size(1) - M), std::min(M, all.size(1))).detach();
    }
    parts.push_back(lm_head(weights_layer_norm(x, w.ln_f_weight, w.ln_f_bias), w.output_head(), is_training()));
  }
  return torch::cat(parts, 1);
}

torch::Tensor GPTImpl::forward(const torch::Tensor& tokens) {
  const GPTWeights w = weights();
  if (encoding_->memory_length() > 0 && (recurrent_ || is_training()) && tokens.size(1) > encoding_->spec().train_length)
    return forward_segments(tokens, w);
  auto x = encoding_->embed(embed_tokens(tokens, w.wte));
  // Position tables, rotary tables and the mask are built once here and shared by every layer.
  const AttentionInputs in = attention_inputs(tokens.size(0), tokens.size(1), tokens.device());
  return lm_head(transformer_body(x, w, in, cfg_.heads), w.output_head(), is_training());
}

int64_t GPTImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor inference_logits(GPT& model, const torch::Tensor& tokens) {
  const int64_t chunk = model->encoding().rescale_chunk(), T = tokens.size(1);
  if (chunk == 0) return model->forward(tokens);
  // Causal attention: a prefix's logits are the full sequence's, so each prefix's last chunk is
  // what a model that recomputed everything at that chunk's s would give.
  std::vector<torch::Tensor> parts;
  int64_t done = 0;
  for (int64_t end : exact_prefix_ends(T, model->encoding().spec().train_length, chunk)) {
    parts.push_back(model->forward(tokens.narrow(1, 0, end)).narrow(1, done, end - done));
    done = end;
  }
  return torch::cat(parts, 1);
}

torch::Tensor token_nll(const torch::Tensor& logits, const torch::Tensor& targets) {
  const auto V = logits.size(-1);
  return F::cross_entropy(logits.reshape({-1, V}), targets.reshape(-1),
                          F::CrossEntropyFuncOptions().reduction(torch::kNone))
      .view(targets.sizes());
}

AnswerScores score_answers(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& is_answer) {
  const auto right = logits.argmax(-1).eq(targets);
  return {(token_nll(logits, targets).to(torch::kFloat64) * is_answer).sum(1), is_answer.sum(1),
          right.logical_and(is_answer).sum(1).to(torch::kFloat64),
          right.logical_or(is_answer.logical_not()).all(1).to(torch::kFloat64)};
}

}  // namespace lb
