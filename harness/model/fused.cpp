#include "harness/model/fused.h"

#include <fmt/format.h>

namespace lb {

bool can_fuse(const std::vector<GPT>& models, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (models.size() < 2) return fail("one model has nothing to fuse with");
  GPT first = models[0];  // a holder sharing the module (encoding() is not const)
  if (!first->encoding().parameters().empty())
    return fail(fmt::format("encoding \"{}\" has learned position parameters (each seed would need its own)",
                            first->encoding().spec().name));
  const auto shape = models[0]->named_parameters();
  for (const auto& m : models) {
    const auto other = m->named_parameters();
    if (other.size() != shape.size()) return fail("the models differ in shape");
    for (size_t i = 0; i < shape.size(); ++i)
      if (other[i].key() != shape[i].key() || other[i].value().sizes() != shape[i].value().sizes())
        return fail("the models differ in shape");
  }
  return true;
}

FusedGPT::FusedGPT(const std::vector<GPT>& models) : shape_(models.at(0)) {
  std::string why;
  if (!can_fuse(models, &why)) throw std::invalid_argument("cannot fuse these models: " + why);
  torch::NoGradGuard no_grad;
  std::vector<std::vector<torch::Tensor>> solo;
  for (const auto& m : models) solo.push_back(m->weights().list());
  weights_ = models[0]->weights();
  size_t i = 0;
  GPTWeights::each(weights_, [&](torch::Tensor& t) {
    std::vector<torch::Tensor> per_seed;
    for (const auto& w : solo) per_seed.push_back(w[i]);
    t = torch::stack(per_seed).detach().clone().requires_grad_(true);
    ++i;
  });
}

std::vector<torch::Tensor> FusedGPT::parameters() const { return weights_.list(); }

void FusedGPT::to(torch::Device device) {
  shape_->to(device);
  torch::NoGradGuard no_grad;
  GPTWeights::each(weights_, [&](torch::Tensor& t) { t = t.to(device).detach().requires_grad_(true); });
}

torch::Tensor FusedGPT::forward(const torch::Tensor& tokens) {
  const int64_t S = tokens.size(0), B = tokens.size(1), T = tokens.size(2);
  const int64_t C = weights_.wte.size(2);
  // The encoding adds to [N, T, C] embeddings: the seeds' rows side by side.
  auto x = shape_->encoding().embed(embed_tokens(tokens, weights_.wte).view({S * B, T, C})).view({S, B, T, C});
  const AttentionInputs in = shape_->attention_inputs(S * B, T, tokens.device());
  return lm_head(transformer_body(x, weights_, in, shape_->config().heads), weights_.output_head(), /*training=*/true);
}

void FusedGPT::unstack_into(std::vector<GPT>& models) const {
  torch::NoGradGuard no_grad;
  const auto stacked = weights_.list();
  for (size_t s = 0; s < models.size(); ++s) {
    const auto targets = models[s]->weights().list();  // views of the model's parameters
    for (size_t i = 0; i < targets.size(); ++i) targets[i].copy_(stacked[i][int64_t(s)]);
  }
}

}  // namespace lb
