#include "harness/model/fused.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <cmath>

#include "harness/errors.h"
#include "harness/model/kernels.h"
#include "harness/model/matmul.h"
#include "harness/model/precision.h"

namespace lb {

namespace F = torch::nn::functional;

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
  for (const auto& item : models[0]->named_parameters()) {
    std::vector<torch::Tensor> per_seed;
    for (const auto& m : models) per_seed.push_back(m->named_parameters()[item.key()]);
    index_[item.key()] = params_.size();
    params_.emplace_back(item.key(), torch::stack(per_seed).detach().clone().requires_grad_(true));
  }
}

void FusedGPT::to(torch::Device device) {
  shape_->to(device);
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : params_) t = t.to(device).detach().requires_grad_(true);
}

const torch::Tensor& FusedGPT::p(const std::string& name) const { return params_[index_.at(name)].second; }

torch::Tensor FusedGPT::layer_norm(const torch::Tensor& x, const std::string& name) const {
  return torch::addcmul(p(name + ".bias").unsqueeze(1), F::layer_norm(x, F::LayerNormFuncOptions({x.size(-1)})),
                        p(name + ".weight").unsqueeze(1));
}

torch::Tensor FusedGPT::linear(const torch::Tensor& x, const std::string& name) const {
  return lb::matmul(x, p(name + ".weight").transpose(1, 2));  // solo Linear weights are [out, in]
}

torch::Tensor FusedGPT::forward(const torch::Tensor& tokens) {
  const int64_t S = tokens.size(0), B = tokens.size(1), T = tokens.size(2);
  const auto& wte = p("wte.weight");  // [S, V, C]
  const int64_t V = wte.size(1), C = wte.size(2);
  const auto& cfg = shape_->config();
  const int64_t H = cfg.heads, hd = C / H;
  // Seed s's token t is row s * V + t of the stacked embedding.
  auto rows = (tokens + torch::arange(S, tokens.options()).view({S, 1, 1}) * V).flatten();
  auto x = shape_->encoding().embed(wte.reshape({S * V, C}).index_select(0, rows).view({S * B, T, C}));
  const AttentionInputs in = shape_->attention_inputs(T, tokens.device());
  x = x.view({S, B * T, C});
  for (int64_t i = 0; i < cfg.layers; ++i) {
    const std::string block = fmt::format("blocks.{}.", i);
    auto qkv = linear(layer_norm(x, block + "ln1"), block + "attn.qkv")
                   .view({S * B, T, 3, H, hd})
                   .permute({2, 0, 3, 1, 4})
                   .unbind(0);
    auto y = attend(qkv[0], qkv[1], qkv[2], in, i).transpose(1, 2).reshape({S, B * T, C});
    x = x + linear(y, block + "attn.proj");
    x = x + linear(lb::gelu(linear(layer_norm(x, block + "ln2"), block + "fc")), block + "fc_proj");
  }
  x = layer_norm(x, "ln_f");
  return lb::matmul(x, wte.transpose(1, 2)).to(torch::kFloat32).view({S, B, T, V});
}

void FusedGPT::unstack_into(std::vector<GPT>& models) const {
  torch::NoGradGuard no_grad;
  for (size_t s = 0; s < models.size(); ++s) {
    auto named = models[s]->named_parameters();
    for (const auto& [name, stacked] : params_) named[name].copy_(stacked[int64_t(s)]);
  }
}

namespace {

// The same parameter groups as the solo trainer: weight decay on the transformer's matrices only.
torch::optim::AdamW fused_optimizer(const FusedGPT& fused, const TrainJob& job) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& [name, t] : fused.parameters()) (t.dim() >= 3 ? decay : no_decay).push_back(t);
  return make_adamw(decay, no_decay, job);
}

// clip_grad_norm_ per seed: each seed's gradient is scaled by min(1, max_norm / (its norm + 1e-6)).
void clip_per_seed(const FusedGPT& fused, double max_norm) {
  torch::NoGradGuard no_grad;
  torch::Tensor squares;
  for (const auto& [name, t] : fused.parameters()) {
    if (!t.grad().defined()) continue;
    auto s = t.grad().to(torch::kFloat32).pow(2).flatten(1).sum(1);
    squares = squares.defined() ? squares + s : s;
  }
  if (!squares.defined()) return;
  const auto coef = (max_norm / (squares.sqrt() + 1e-6)).clamp_max(1.0);
  for (const auto& [name, t] : fused.parameters()) {
    if (!t.grad().defined()) continue;
    std::vector<int64_t> shape(size_t(t.dim()), 1);
    shape[0] = -1;
    t.mutable_grad().mul_(coef.view(shape).to(t.grad().scalar_type()));
  }
}

}  // namespace

std::vector<TrainStats> train_fused(std::vector<GPT>& models, const BatchSource& batches,
                                    const std::vector<TrainJob>& jobs, torch::Device device) {
  const TrainJob& job = jobs.at(0);
  for (const auto& j : jobs)
    if (j.train.steps != job.train.steps || j.train.length != job.train.length ||
        j.train.batch_size != job.train.batch_size || j.train.lr != job.train.lr || j.bf16 != job.bf16)
      throw std::invalid_argument("fused seeds need one training recipe");
  const int64_t S = int64_t(models.size()), T = job.train.length;
  for (auto& m : models) m->to(device);  // the trained weights are copied back there
  FusedGPT fused(models);
  fused.to(device);
  auto optimizer = fused_optimizer(fused, job);
  std::vector<TrainStats> stats(static_cast<size_t>(S));
  const auto t0 = std::chrono::steady_clock::now();
  auto window_start = t0;
  int64_t window_steps = 0;
  for (int64_t step = 0; step < job.train.steps; ++step) {
    const double lr = learning_rate(job, step);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    // Seed s draws the batch its solo run would draw at this step.
    std::vector<TrainBatch> per_seed;
    for (const auto& j : jobs) per_seed.push_back(batches(j.train.batch_size, T, j.seed, step));
    std::vector<torch::Tensor> tokens;
    for (const auto& b : per_seed) tokens.push_back(b.tokens);
    const auto stacked = torch::stack(tokens).to(device);
    torch::Tensor logits;
    {
      AutocastScope autocast(job.bf16, device);
      logits = fused.forward(stacked.narrow(2, 0, T));
    }
    // The sum of the seeds' own mean losses: each seed's weights get exactly its own gradient.
    std::vector<torch::Tensor> losses;
    for (int64_t s = 0; s < S; ++s) {
      TrainBatch b = per_seed[size_t(s)];
      b.tokens = stacked[s];
      if (b.weights.defined()) b.weights = b.weights.to(device);
      losses.push_back(batch_loss(logits[s], b));
    }
    auto loss = torch::stack(losses);
    const auto values = loss.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    for (int64_t s = 0; s < S; ++s)
      if (!std::isfinite(values.data_ptr<double>()[s]))
        throw non_finite_loss(fmt::format("training loss of seed {}", jobs[size_t(s)].seed), values.data_ptr<double>()[s],
                              step + 1, lr);
    optimizer.zero_grad();
    loss.sum().backward();
    if (job.train.grad_clip > 0) clip_per_seed(fused, job.train.grad_clip);
    optimizer.step();
    ++window_steps;
    const bool last = step + 1 == job.train.steps;
    for (int64_t s = 0; s < S; ++s) {
      if (step == 0) stats[size_t(s)].first_loss = values.data_ptr<double>()[s];
      if ((step + 1) % job.train.log_every == 0 || last) stats[size_t(s)].final_loss = values.data_ptr<double>()[s];
    }
    if ((step + 1) % job.train.log_every == 0 || last || step == 0) {
      const auto now = std::chrono::steady_clock::now();
      const double window = std::chrono::duration<double>(now - window_start).count();
      const std::vector<double> losses_now(values.data_ptr<double>(), values.data_ptr<double>() + S);
      spdlog::info("[{}] step {}/{} loss {:.4f} lr {:.2e} {} ({} seeds fused)", job.label, step + 1, job.train.steps,
                   fmt::join(losses_now, "/"), lr,
                   rate_and_eta(window_steps, window, S * job.train.batch_size * T, job.train.steps - step - 1), S);
      window_start = now;
      window_steps = 0;
    }
    check_interrupt(fmt::format("while training {} (fused seeds restart from step 0)", job.label));
  }
  fused.unstack_into(models);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& st : stats) {
    st.steps = job.train.steps;
    st.tokens = job.train.steps * job.train.batch_size * T;
    st.seconds = seconds / double(S);
    st.tokens_per_second = double(st.tokens) / std::max(st.seconds, 1e-9);
  }
  return stats;
}

}  // namespace lb
