// inspect, list, bench.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>

#include "encodings/encoding.h"
#include "encodings/registry.h"
#include "encodings/rope_scaling.h"
#include "harness/cli/handlers.h"
#include "harness/config/reference.h"
#include "harness/data/tasks.h"
#include "harness/model/build.h"
#include "harness/model/precision.h"
#include "harness/run/bench.h"
#include "harness/run/experiment.h"

namespace lb {

using nlohmann::json;

namespace {

json json_flag(const Args& args, const std::string& name, const char* what) {
  const std::string text = *args.get(name);
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw UsageError(fmt::format("--{} must be a JSON object of {}, got {}", name, what, text));
  return j;
}

template <class E>
E vocabulary_flag(const Args& args, const std::string& name, E fallback) {
  const auto v = args.get(name);
  if (!v) return fallback;
  try {
    return parse_vocabulary<E>(*v);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("--{}: {}", name, e.what()));
  }
}

}  // namespace

int cmd_inspect(const Args& args) {
  if (args.operands().size() != 1) throw UsageError("inspect takes one ENCODING (see `lengthbench list`)");
  // The model shape as a config, so the encoding is built the way a run builds it.
  Config c = read_config({{"runs", {{{"encoding", args.operands()[0]}}}}});
  const int64_t head_dim = args.integer("head-dim", 32);
  c.model.heads = args.integer("heads", 4);
  c.model.d_model = head_dim * c.model.heads;
  c.train.length = args.integer("train-length", 128);
  const int64_t T = args.integer("eval-length", c.train.length);
  RunSpec run = c.runs[0];
  if (args.has("options")) run.encoding_options = json_flag(args, "options", "encoding options");
  if (args.has("base")) run.encoding_options["base"] = args.number("base");
  auto encoding = make_encoding(encoding_spec(c, run, std::max(T, c.train.length)));
  Scaling scaling;
  scaling.method = args.get("scaling").value_or("none");
  if (auto f = args.get("factor"); f && *f != "auto") scaling.factor = args.number("factor");
  if (args.has("scaling-options")) scaling.options = json_flag(args, "scaling-options", "scaling options");
  if (args.has("exact-chunk")) scaling.exact_chunk = args.integer("exact-chunk", 0);
  encoding->set_scaling(scaling);
  torch::NoGradGuard no_grad;
  std::cout << encoding->inspect(T).dump() << "\n";
  return 0;
}

int cmd_bench(const Args& args) {
  const int threads = use_threads(int(args.integer("threads", BenchOptions{}.threads)));
  if (args.has("gemm-peak")) {  // --gemm-peak N: square GEMM size
    const int64_t n = args.integer("gemm-peak", 1024);
    // fp32 through the BLAS with the BLAS on every core (the layout that path trains in), and
    // through oneDNN on the OpenMP pool.
    double blas_fp32 = 0;
    {
      const GemmBackendScope blas(GemmBackend::kLibtorch);
      const ThreadLayoutScope layout(choose_thread_layout(threads, false, "cpu"));
      blas_fp32 = gemm_peak(n, torch::kFloat32, GemmBackend::kLibtorch, 10);
    }
    std::cout << json{{"gemm", n},
                      {"fp32_flops", gemm_peak(n, torch::kFloat32, default_gemm_backend(), 10)},
                      {"fp32_blas_flops", blas_fp32},
                      {"fp32_gemm", gemm_backend_name(default_gemm_backend())},
                      {"bf16_flops", gemm_peak(n, torch::kBFloat16, GemmBackend::kLibtorch, 10)}}.dump() << "\n";
    return 0;
  }
  BenchOptions o;
  o.layers = args.integer("layers", o.layers);
  o.d_model = args.integer("d-model", o.d_model);
  o.heads = args.integer("heads", o.heads);
  o.length = args.integer("length", o.length);
  o.batch = args.integer("batch", o.batch);
  o.steps = args.integer("steps", o.steps);
  o.warmup = args.integer("warmup", o.warmup);
  o.eval_tokens = args.integer("eval-tokens", o.eval_tokens);
  o.threads = threads;
  o.precision = vocabulary_flag(args, "precision", o.precision);
  o.encoding = args.get("encoding").value_or(o.encoding);
  o.attention = vocabulary_flag(args, "attention", o.attention);
  o.fused_seeds = args.integer("fused-seeds", 0);
  o.eval_length = args.integer("eval-length", 0);
  o.eval_only = args.has("eval-only");
  o.gemm = vocabulary_flag(args, "gemm", o.gemm);
  std::cout << run_bench(o).dump() << "\n";
  return 0;
}

int cmd_list(const Args&) {
  std::cout << "encodings (trained in; positions, then what else it can do):\n";
  for (const auto& e : encoding_registry()) {
    std::string traits = position_kind_name(e.capabilities.kind);
    if (e.capabilities.takes_scalings) traits += ", takes scalings";
    if (e.capabilities.learned_positions) traits += ", learned positions";
    std::string opts = e.option_defaults.empty() ? "" : "  options " + e.option_defaults.dump();
    std::cout << fmt::format("  {:<12} {} [{}]{}\n", e.name, e.description, traits, opts);
  }
  std::cout << fmt::format("scalings (inference-time, for {}; factor \"auto\" = max(1, T/L) or a number >= 1):\n",
                           fmt::join(encodings_taking_scalings(), ", "));
  for (const auto& s : scaling_methods()) {
    std::string opts = s.option_defaults.empty() ? "" : "  options " + s.option_defaults.dump();
    std::cout << fmt::format("  {:<12} {}{}\n", s.name, s.description, opts);
  }
  std::cout << "  with a length-dependent factor, \"exact_chunk\": N (or \"auto\" = L/4) scores queries in chunks of N, "
               "each at s = max(1, chunk end / L) on its own prefix (exact dynamic scaling)\n";
  std::cout << "tasks (data.task.names; scored by exact match):\n";
  for (const auto& t : task_registry())
    std::cout << fmt::format("  {:<12} {} (instances of at least {} tokens)\n", t.name, t.description, t.min_length);
  std::cout << "protocols (eval.protocols; task data is scored by \"task\"):\n";
  for (const auto& p : Vocabulary<Protocol>::entries()) std::cout << fmt::format("  {:<14} {}\n", p.name, p.description);
  return 0;
}

int cmd_reference(const Args& args) {
  const auto& what = args.operands();
  if (what.size() != 1 || (what[0] != "config" && what[0] != "cli"))
    throw UsageError("reference takes one of: config, cli");
  std::cout << (what[0] == "config" ? config_reference_markdown() : cli_reference_markdown());
  return 0;
}

}  // namespace lb
