#include "harness/model/trainer.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/data/sampler.h"
#include "harness/config.h"
#include "harness/errors.h"
#include "harness/model/precision.h"
#include "harness/atomic_file.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

TrainJob train_job(const Config& c, const std::string& label, bool bf16, uint64_t seed) {
  TrainJob job;
  job.label = label;
  job.train = c.train;
  job.seed = seed;
  job.bf16 = bf16;
  return job;
}

json TrainStats::to_json() const {
  return {{"steps", steps},     {"tokens", tokens},         {"seconds", seconds},
          {"tokens_per_second", tokens_per_second},          {"final_loss", final_loss},
          {"first_loss", first_loss}};
}

TrainStats TrainStats::from_json(const json& j) {
  TrainStats s;
  s.steps = j.at("steps");
  s.tokens = j.at("tokens");
  s.seconds = j.at("seconds");
  s.tokens_per_second = j.at("tokens_per_second");
  s.final_loss = j.at("final_loss");
  s.first_loss = j.value("first_loss", 0.0);
  return s;
}

double learning_rate(const TrainJob& job, int64_t step) {
  if (step < job.train.warmup_steps) return job.train.lr * double(step + 1) / double(job.train.warmup_steps);
  const double span = std::max<int64_t>(1, job.train.steps - job.train.warmup_steps);
  const double progress = std::min(1.0, double(step - job.train.warmup_steps) / span);
  const double min_lr = job.train.lr * job.train.min_lr_ratio;
  return min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (job.train.lr - min_lr);
}

torch::optim::AdamW make_adamw(const std::vector<torch::Tensor>& decay, const std::vector<torch::Tensor>& no_decay,
                               const TrainJob& job) {
  auto options = torch::optim::AdamWOptions(job.train.lr).betas({job.train.beta1, job.train.beta2}).weight_decay(job.train.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  auto no_decay_options = options;
  no_decay_options.weight_decay(0.0);
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(no_decay_options));
  return torch::optim::AdamW(groups, options);
}

namespace {

std::string format_duration(double seconds) {
  const int64_t s = std::llround(seconds);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60)
                   : fmt::format("{}m{:02}s", s / 60, s % 60);
}

}  // namespace

std::string rate_and_eta(int64_t window_steps, double window_seconds, int64_t tokens_per_step, int64_t steps_left) {
  const double tps = double(window_steps * tokens_per_step) / std::max(window_seconds, 1e-9);
  const double eta = double(steps_left * tokens_per_step) / std::max(tps, 1e-9);
  return fmt::format("{:.1f}k tok/s ETA {}", tps / 1e3, format_duration(eta));
}

NumericError non_finite_loss(const std::string& what, double value, int64_t step, double lr) {
  return NumericError(fmt::format("{} became {} at step {} (lr {:.2e}); lower train.lr, raise train.warmup_steps or "
                                  "keep train.grad_clip > 0", what, value, step, lr));
}

namespace {

// Weight decay on the transformer's matrices (token embedding, projections) only: not on norms,
// and not on encoding parameters (a decayed position table would shrink its untrained rows, and
// biases like T5's or KERPLE's are not weights to regularise).
torch::optim::AdamW make_optimizer(GPT& model, const TrainJob& job) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& item : model->named_parameters()) {
    const bool encoding = item.key().rfind("encoding.", 0) == 0;
    (item.value().dim() >= 2 && !encoding ? decay : no_decay).push_back(item.value());
  }
  return make_adamw(decay, no_decay, job);
}

json read_state(const std::string& prefix);

// Tensors go to files named by step; the state file, written last and atomically, names them.
// A kill at any point leaves the previous state file pointing at complete files, and a failed
// write removes its partial files.
void save_checkpoint(GPT& model, torch::optim::AdamW& optimizer, const std::string& prefix, json state) {
  ensure_directory(fs::path(prefix).parent_path().string(), "checkpoint directory");
  const json previous = read_state(prefix);
  const std::string stem = fmt::format("{}.step{}", prefix, state.at("step").get<int64_t>());
  // Serialized in memory, then written with our own atomic write: libtorch's file writer throws
  // from a destructor when a write fails (disk full, file-size limit), which would abort.
  auto write = [&](const auto& module, const std::string& path) {
    std::ostringstream bytes;
    torch::save(module, bytes);
    try {
      write_text_atomic(path, bytes.str());
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("cannot write checkpoint: {} (the previous checkpoint is kept)", e.what()));
    }
  };
  write(model, stem + ".model.pt");
  try {
    write(optimizer, stem + ".optim.pt");
  } catch (...) {
    std::error_code ec;
    fs::remove(stem + ".model.pt", ec);
    throw;
  }
  state["model_file"] = fs::path(stem + ".model.pt").filename().string();
  state["optim_file"] = fs::path(stem + ".optim.pt").filename().string();
  write_json_atomic(prefix + ".json", state);
  if (!previous.is_null())
    for (const char* key : {"model_file", "optim_file"})
      if (previous.is_object() && previous.value(key, "") != state[key]) {
        std::error_code ec;  // a stale file that cannot be removed is no reason to stop training
        fs::remove(fs::path(prefix).parent_path() / previous.value(key, ""), ec);
      }
}

std::string checkpoint_file(const std::string& prefix, const json& state, const char* key) {
  return (fs::path(prefix).parent_path() / state.at(key).get<std::string>()).string();
}

json read_state(const std::string& prefix) {
  std::ifstream in(prefix + ".json");
  if (!in) return nullptr;
  json state = json::parse(in, nullptr, false);
  return state.is_discarded() ? json(nullptr) : state;
}

// A checkpoint that cannot be read is renamed *.corrupt (kept for inspection, never loaded again)
// and training starts over.
void set_aside(const std::string& prefix, const json& state, const std::string& reason, const std::string& label) {
  std::error_code ec;
  for (const char* key : {"model_file", "optim_file"})
    if (state.is_object() && state.contains(key)) {
      const auto file = checkpoint_file(prefix, state, key);
      fs::rename(file, file + ".corrupt", ec);
    }
  fs::rename(prefix + ".json", prefix + ".json.corrupt", ec);
  spdlog::warn("[{}] checkpoint {} is unreadable ({}); set aside as *.corrupt, training this model from step 0", label,
               prefix, reason);
}

// Loads the checkpoint into model (and optimizer) and its step and stats; false (with the
// checkpoint set aside and the model restored to its state before) when any of it cannot be read.
bool try_load(GPT& model, torch::optim::AdamW* optimizer, const std::string& prefix, const json& state,
              const std::string& label, int64_t* step, TrainStats* stats) {
  std::stringstream before;
  torch::save(model, before);
  try {
    if (!state.is_object()) throw std::runtime_error("the state file is not a JSON object");
    const int64_t saved_step = state.at("step").get<int64_t>();
    const TrainStats saved_stats = TrainStats::from_json(state.at("stats"));
    torch::load(model, checkpoint_file(prefix, state, "model_file"));
    if (optimizer) torch::load(*optimizer, checkpoint_file(prefix, state, "optim_file"));
    if (step) *step = saved_step;
    if (stats) *stats = saved_stats;
    return true;
  } catch (const std::exception& e) {
    set_aside(prefix, state, error_line(e), label);
    torch::load(model, before);
    return false;
  }
}

}  // namespace

int64_t checkpoint_step(const std::string& prefix) {
  const json state = read_state(prefix);
  return state.is_object() ? state.value("step", int64_t(0)) : 0;
}

bool load_complete_checkpoint(GPT& model, const std::string& prefix, TrainStats* stats) {
  if (prefix.empty()) return false;
  json state = read_state(prefix);
  if (!state.is_object() || !state.value("complete", false)) return false;
  return try_load(model, nullptr, prefix, state, fs::path(prefix).filename().string(), nullptr, stats);
}

torch::Tensor batch_loss(const torch::Tensor& logits, const TrainBatch& batch) {
  const int64_t T = logits.size(1);
  auto nll = token_nll(logits, batch.tokens.narrow(1, 1, T));
  if (!batch.weights.defined()) return nll.mean();
  return (nll * batch.weights).sum() / batch.weights.sum().clamp_min(1.0);
}

void save_trained(GPT& model, const TrainJob& job, const TrainStats& stats) {
  if (job.checkpoint.empty()) return;
  auto optimizer = make_optimizer(model, job);  // no moments to keep: the model is finished
  save_checkpoint(model, optimizer, job.checkpoint, {{"step", stats.steps}, {"complete", true}, {"stats", stats.to_json()}});
}

TrainStats train(GPT& model, const torch::Tensor& stream, const TrainJob& job, torch::Device device) {
  return train(model, stream_batches(stream), job, device);
}

TrainStats train(GPT& model, const BatchSource& batches, const TrainJob& job, torch::Device device) {
  TrainStats stats;
  model->to(device);
  if (load_complete_checkpoint(model, job.checkpoint, &stats)) {
    spdlog::info("[{}] trained model found at {} ({} steps); not retraining", job.label, job.checkpoint,
                 stats.steps);
    return stats;
  }
  model->train();
  auto optimizer = std::make_unique<torch::optim::AdamW>(make_optimizer(model, job));
  int64_t start = 0;
  if (!job.checkpoint.empty()) {
    json state = read_state(job.checkpoint);
    if (!state.is_null()) {
      if (try_load(model, optimizer.get(), job.checkpoint, state, job.label, &start, &stats)) {
        spdlog::info("[{}] resuming from step {} ({})", job.label, start, job.checkpoint);
      } else {
        optimizer = std::make_unique<torch::optim::AdamW>(make_optimizer(model, job));  // drop a half-loaded state
      }
    }
  }
  const int64_t tokens_per_step = job.train.batch_size * job.train.length;  // the global batch
  const auto& dp = job.data_parallel;
  const bool writes = !dp || dp->is_main();
  int64_t local_batch = job.train.batch_size, first_row = 0;
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters()) params.push_back(p);
  if (dp) {
    if (job.train.batch_size % dp->world() != 0)
      throw ConfigError(fmt::format("config key \"train.batch_size\" ({}) must be divisible by the data-parallel world "
                                    "size ({})", job.train.batch_size, dp->world()));
    local_batch = job.train.batch_size / dp->world();
    first_row = dp->rank() * local_batch;
    // Every rank must resume from the step rank 0 resumed from, then start from rank 0's weights.
    auto steps = torch::tensor({double(start)}, torch::kFloat64);
    dp->broadcast({steps});
    if (steps.item<double>() != double(start))
      throw std::runtime_error(fmt::format("data-parallel rank {} resumed from step {} but rank 0 from step {}; remove "
                                           "the checkpoint directory and rerun", dp->rank(), start, steps.item<double>()));
    dp->broadcast(params);
  }
  auto t0 = std::chrono::steady_clock::now();
  const double seconds_before = stats.seconds;
  auto window_start = t0;
  int64_t window_steps = 0;
  double loss_value = stats.final_loss;
  for (int64_t step = start; step < job.train.steps; ++step) {
    const double lr = learning_rate(job, step);
    for (auto& group : optimizer->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    // Every rank draws the same global batch from (seed, step) and trains on its own rows.
    TrainBatch batch = batches(job.train.batch_size, job.train.length, job.seed, step);
    batch.tokens = batch.tokens.narrow(0, first_row, local_batch).to(device);
    if (batch.weights.defined()) batch.weights = batch.weights.narrow(0, first_row, local_batch).to(device);
    torch::Tensor loss;
    {
      AutocastScope autocast(job.bf16, device);
      loss = batch_loss(model->forward(batch.tokens.narrow(1, 0, job.train.length)), batch);
    }
    // With several ranks the logged loss is the global batch's mean, the same on every rank, so
    // every rank stops together on a non-finite one.
    double step_loss = loss.item<double>();
    bool interrupted = interrupt_requested();
    if (dp) {  // one small all-reduce: the mean loss, and whether any rank was signalled
      auto shared = torch::tensor({step_loss, interrupted ? 1.0 : 0.0}, torch::kFloat64);
      dp->average({shared});
      step_loss = shared[0].item<double>();
      interrupted = shared[1].item<double>() > 0;
    }
    if (!std::isfinite(step_loss)) throw non_finite_loss("training loss", step_loss, step + 1, lr);
    optimizer->zero_grad();
    loss.backward();
    if (dp) {
      std::vector<torch::Tensor> grads;
      for (auto& p : params)
        if (p.grad().defined()) grads.push_back(p.grad());
      dp->average(grads);  // the gradient of the global batch's mean loss, on every rank
    }
    if (job.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), job.train.grad_clip);
    optimizer->step();
    ++window_steps;

    const bool last = step + 1 == job.train.steps;
    if ((step + 1) % job.train.log_every == 0 || last || step == start) {
      loss_value = step_loss;
      if (step == 0) stats.first_loss = loss_value;
      auto now = std::chrono::steady_clock::now();
      const double window = std::chrono::duration<double>(now - window_start).count();
      spdlog::info("[{}] step {}/{} loss {:.4f} lr {:.2e} {}", job.label, step + 1, job.train.steps, loss_value, lr,
                   rate_and_eta(window_steps, window, tokens_per_step, job.train.steps - step - 1));
      window_start = now;
      window_steps = 0;
    }
    stats.steps = step + 1;
    stats.tokens = stats.steps * tokens_per_step;
    stats.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats.final_loss = loss_value;
    const bool stopping = job.stop_after > 0 && step + 1 == job.stop_after && !last;
    if (writes && !job.checkpoint.empty() && !last && ((step + 1) % job.train.checkpoint_every == 0 || stopping))
      save_checkpoint(model, *optimizer, job.checkpoint, {{"step", step + 1}, {"complete", false}, {"stats", stats.to_json()}});
    if (stopping) return stats;
    if (interrupted && !last) {  // on the last step, the complete checkpoint below is written first
      if (writes && !job.checkpoint.empty() && !last)
        save_checkpoint(model, *optimizer, job.checkpoint, {{"step", step + 1}, {"complete", false}, {"stats", stats.to_json()}});
      throw Interrupted(fmt::format("interrupted while training {} at step {}{}", job.label, step + 1,
                                    job.checkpoint.empty() ? "" : " (checkpoint saved)"));
    }
  }
  stats.tokens_per_second = stats.seconds > 0 ? stats.tokens / stats.seconds : 0;
  if (writes && !job.checkpoint.empty())
    save_checkpoint(model, *optimizer, job.checkpoint, {{"step", job.train.steps}, {"complete", true}, {"stats", stats.to_json()}});
  return stats;
}

}  // namespace lb
