#include "harness/run/bench.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <chrono>
#include <cstdlib>

#include "harness/model/build.h"
#include "harness/model/config_check.h"
#include "harness/model/matmul.h"
#include "harness/model/precision.h"
#include "harness/report/environment.h"
#include "harness/run/precision_probe.h"
#include "harness/train/fused_trainer.h"
#include "harness/train/trainer.h"

namespace lb {

using nlohmann::json;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

double gemm_peak(int64_t n, torch::ScalarType dtype, GemmBackend backend, int repeats) {
  torch::InferenceMode guard;
  const GemmBackendScope scope(backend);
  auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  lb::matmul(a, b);  // warm-up (oneDNN primitive creation)
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    lb::matmul(a, b);
    best = std::max(best, 2.0 * n * n * n / seconds_since(t0));
  }
  return best;
}

namespace {

// The benchmark's model as a config: the defaults with its shape, so it is built the way a run builds it.
Config bench_config(const BenchOptions& o) {
  Config c = read_config({{"runs", {{{"encoding", o.encoding}, {"attention", name_of(o.attention)}}}}});
  c.model.layers = o.layers;
  c.model.d_model = o.d_model;
  c.model.heads = o.heads;
  c.train.length = o.length;
  c.train.batch_size = o.batch;
  c.train.warmup_steps = 0;
  c.train.lr = 1e-3;
  c.train.log_every = 1 << 30;
  check_model_config(c);
  return c;
}

}  // namespace

json run_bench(const BenchOptions& o) {
  const Hardware hardware = detect_hardware("cpu");
  const Config c = bench_config(o);
  const auto stream = torch::randint(256, {1 << 20}, torch::kUInt8);
  // "auto" decides as a run does: by timing both precisions on this model (and recording it).
  std::optional<PrecisionRates> rates;
  if (precision_needs_rates(o.precision, "cpu", hardware))
    rates = precision_rates(c, c.runs[0], stream_batches(stream), 256, 4 * o.length, hardware, at::get_num_threads());
  const PrecisionChoice precision = choose_precision(o.precision, "cpu", hardware, rates);
  const GemmBackendScope gemm(o.gemm == GemmBackend::kLibtorch ? GemmBackend::kLibtorch : default_gemm_backend());
  const ThreadLayoutScope thread_scope(choose_thread_layout(at::get_num_threads(), precision.bf16(), "cpu"));
  const ThreadLayout& layout = thread_scope.applied();
  const Compute compute{torch::kCPU, precision.bf16()};
  const int64_t T = o.eval_length > 0 ? o.eval_length : 4 * o.length, B = std::max<int64_t>(1, o.eval_tokens / T);
  GPT model = build_model(c, c.runs[0], 256, std::max(T, 4 * o.length), 0);

  TrainJob job = train_job(c, "bench", compute, 0);
  json train_tps = nullptr;
  auto t0 = std::chrono::steady_clock::now();
  if (!o.eval_only) {
    job.train.steps = o.warmup;
    train(model, stream, job, torch::kCPU);
    job.train.steps = o.steps;
    t0 = std::chrono::steady_clock::now();
    if (const char* trace = std::getenv("LENGTHBENCH_PROFILE")) {  // chrome trace of the timed steps
      torch::autograd::profiler::RecordProfile profile(trace);
      train(model, stream, job, torch::kCPU);
    } else {
      train(model, stream, job, torch::kCPU);
    }
    train_tps = double(o.steps * o.batch * o.length) / seconds_since(t0);
  }
  auto rows = stream.narrow(0, 0, B * (T + 1)).view({B, T + 1}).to(torch::kInt64);
  double eval_s = 0;
  {
    torch::InferenceMode inference;
    model->eval();
    AutocastScope autocast(job.bf16, torch::kCPU);
    model->forward(rows.narrow(0, 0, 1).narrow(1, 0, T));  // warm-up
    t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < o.eval_batches; ++i)
      token_nll(model->forward(rows.narrow(1, 0, T)), rows.narrow(1, 1, T));
    eval_s = seconds_since(t0);
  }
  json fused = nullptr;
  if (o.fused_seeds > 1 && !o.eval_only) {
    // The same steps for N seeds at once; "one after another" is the solo rate above.
    std::vector<GPT> models;
    std::vector<TrainJob> jobs;
    for (int64_t s = 0; s < o.fused_seeds; ++s) {
      models.push_back(build_model(c, c.runs[0], 256, 4 * o.length, uint64_t(s + 1)));
      jobs.push_back(job);
      jobs.back().seed = uint64_t(s + 1);
      jobs.back().train.steps = o.warmup;
    }
    const auto batches = stream_batches(stream);
    train_fused(models, batches, jobs, torch::kCPU);
    for (auto& j : jobs) j.train.steps = o.steps;
    t0 = std::chrono::steady_clock::now();
    train_fused(models, batches, jobs, torch::kCPU);
    const double fused_s = seconds_since(t0);
    const double fused_tps = double(o.fused_seeds * o.steps * o.batch * o.length) / fused_s;
    fused = {{"seeds", o.fused_seeds}, {"train_tokens_per_second", fused_tps},
             {"speedup", fused_tps / train_tps.get<double>()}};
  }
  return {{"side", "lengthbench"},
          {"fused_seeds", fused},
          {"precision", name_of(precision.effective)},
          {"attention", name_of(o.attention)},
          {"precision_choice", precision.to_json(hardware)},
          {"cpu", hardware.cpu_model},
          {"threads", o.threads},
          {"thread_layout", layout.to_json()},
          {"gemm", layout.gemm},
          {"train_tokens_per_second", train_tps},
          {"eval_tokens_per_second", double(o.eval_batches * B * T) / eval_s},
          {"eval_batch", B},
          {"score_block_rows", query_block_rows(B, o.heads, T, true)},
          {"eval_length", T},
          {"peak_rss_mb", peak_rss_mb()},
          {"parameters", model->parameter_count()}};
}

}  // namespace lb
