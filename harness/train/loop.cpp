#include "harness/train/loop.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <cmath>

namespace lb {

double learning_rate(const TrainJob& job, int64_t step) {
  if (step < job.train.warmup_steps) return job.train.lr * double(step + 1) / double(job.train.warmup_steps);
  const double span = std::max<int64_t>(1, job.train.steps - job.train.warmup_steps);
  const double progress = std::min(1.0, double(step - job.train.warmup_steps) / span);
  const double min_lr = job.train.lr * job.train.min_lr_ratio;
  return min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (job.train.lr - min_lr);
}

namespace {

std::string format_duration(double seconds) {
  const int64_t s = std::llround(seconds);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60) : fmt::format("{}m{:02}s", s / 60, s % 60);
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

void run_training_loop(const TrainJob& job, int64_t start, LoopHooks& hooks, std::vector<TrainStats>& stats) {
  const TrainConfig& t = job.train;
  const size_t models = stats.size();
  const int64_t tokens_per_step = t.batch_size * t.length;  // per model (the global batch)
  std::vector<double> seconds_before;
  for (const auto& s : stats) seconds_before.push_back(s.seconds);
  const auto t0 = std::chrono::steady_clock::now();
  auto window_start = t0;
  int64_t window_steps = 0;
  auto save = [&](int64_t steps, bool complete) {
    if (hooks.save) hooks.save(steps, complete, stats);
  };
  for (int64_t step = start; step < t.steps; ++step) {
    const double lr = learning_rate(job, step);
    const StepLosses losses = hooks.forward(step);
    for (size_t m = 0; m < models; ++m)
      if (!std::isfinite(losses.values[m])) throw non_finite_loss(hooks.loss_name(m), losses.values[m], step + 1, lr);
    hooks.update(lr);
    ++window_steps;
    const bool last = step + 1 == t.steps;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if ((step + 1) % t.log_every == 0 || last || step == start) {
      for (size_t m = 0; m < models; ++m) {
        if (step == 0) stats[m].first_loss = losses.values[m];
        stats[m].final_loss = losses.values[m];
      }
      const auto now = std::chrono::steady_clock::now();
      const double window = std::chrono::duration<double>(now - window_start).count();
      spdlog::info("[{}] step {}/{} loss {:.4f} lr {:.2e} {}{}", job.label, step + 1, t.steps,
                   fmt::join(losses.values, "/"), lr,
                   rate_and_eta(window_steps, window, int64_t(models) * tokens_per_step, t.steps - step - 1),
                   hooks.log_suffix);
      window_start = now;
      window_steps = 0;
    }
    for (size_t m = 0; m < models; ++m) {
      stats[m].steps = step + 1;
      stats[m].tokens = stats[m].steps * tokens_per_step;
      stats[m].seconds = seconds_before[m] + elapsed / double(models);
    }
    const bool stopping = job.stop_after > 0 && step + 1 == job.stop_after && !last;
    if (!last && ((step + 1) % t.checkpoint_every == 0 || stopping)) save(step + 1, false);
    if (stopping) return;
    if (losses.interrupted && !last) {  // on the last step, the complete checkpoint below is written first
      if ((step + 1) % t.checkpoint_every != 0) save(step + 1, false);
      throw Interrupted(fmt::format("interrupted while training {} at step {}{}", job.label, step + 1,
                                    hooks.interrupt_note));
    }
  }
  for (auto& s : stats) s.tokens_per_second = s.seconds > 0 ? double(s.tokens) / s.seconds : 0;
  save(t.steps, true);
}

}  // namespace lb
