// Faults made on purpose: each must end in one clear line, a defined exit code and a sound state
// on disk (no stack traces, no truncated files, resumable progress).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "harness/run/config_load.h"
#include "harness/config/config.h"
#include "harness/data/corpus.h"
#include "harness/core/atomic_file.h"
#include "harness/core/errors.h"
#include "harness/run/preflight.h"
#include "harness/report/files.h"
#include "harness/report/tables.h"
#include "harness/run/experiment.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;
namespace fs = std::filesystem;

using test::Child;
using test::error_lines;
using test::files_under;
using test::run_cli;
using test::slurp;
using test::write_config;

TEST_CASE("a config that is a directory, or missing, is one line naming the path (exit 2)") {
  test::TempDir dir;
  fs::create_directories(dir.path / "configs.json");
  CHECK_THROWS_WITH(load_config((dir.path / "configs.json").string()), Catch::Contains("is a directory"));
  const auto child = run_cli({"run", (dir.path / "configs.json").string()}, dir);
  CHECK(child.exit_code == 2);
  REQUIRE(error_lines(child.err).size() == 1);
  CHECK_THAT(error_lines(child.err)[0], Catch::Contains("configs.json") && Catch::Contains("is a directory"));
  const auto missing = run_cli({"table", (dir.path / "nope.json").string()}, dir);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("does not exist"));
}

TEST_CASE("an --out that is a file, and data of the wrong kind, are refused naming the path") {
  test::TempDir dir;
  const auto data = test::make_corpus(dir);
  const auto file = dir.file("taken", "x");
  CHECK_THROWS_WITH(run_experiment(parse_config(test::small_config(data)), {file}),
                    Catch::Contains("--out") && Catch::Contains("is a file"));
  json cfg = test::small_config(data);
  cfg["data"]["format"] = "jsonl";  // a directory given to a file format
  CHECK_THROWS_WITH(run_experiment(parse_config(cfg), {(dir.path / "out").string()}),
                    Catch::Contains("is a directory") && Catch::Contains("data.format \"jsonl\""));
}

TEST_CASE("sizes the config fixes are checked before the first training step") {
  test::TempDir dir;
  json cfg = test::small_config(test::make_corpus(dir));
  cfg["eval"]["passkey"] = {{"trials", 2}};  // prompts need ~100 tokens; the longest window is 32
  const auto out = dir.path / "out";
  CHECK_THROWS_WITH(run_experiment(parse_config(cfg), {out.string()}),
                    Catch::Contains("eval.passkey") && Catch::Contains("at least"));
  CHECK(!fs::exists(out / "checkpoints"));  // nothing was trained
}

TEST_CASE("a model too large for this machine is refused with the estimate, before anything is allocated") {
  test::TempDir dir;
  json cfg = test::small_config(test::make_corpus(dir));
  cfg["model"] = {{"layers", 96}, {"d_model", 16384}, {"heads", 128}};
  const auto out = dir.path / "out";
  try {
    run_experiment(parse_config(cfg), {out.string()});
    FAIL("no error");
  } catch (const ResourceError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("needs about") && Catch::Contains("GiB available"));
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK(!fs::exists(out / "checkpoints"));
}

TEST_CASE("the run's estimate adds training time at the training rate and evaluation time at the evaluation rate") {
  Workload work;
  work.train_tokens = 3000;
  work.eval_tokens = 1200;
  const json estimate = describe_estimate(work, 100.0, 400.0);  // 30 s + 3 s
  CHECK(estimate["estimated_seconds"].get<double>() == Approx(33.0));
  CHECK(estimate["calibrated_eval_tokens_per_second"].get<double>() == 400.0);
  CHECK_THAT(estimate["line"].get<std::string>(), Catch::StartsWith("estimate: about 33 s (3k training tokens at ~0.1k"));
}

TEST_CASE("a damaged checkpoint is set aside and the model retrained to the same numbers") {
  test::TempDir dir;
  const auto data = test::make_corpus(dir);
  json cfg = test::small_config(data);
  cfg["runs"] = json::array({{{"encoding", "rope"}}});
  const Config config = parse_config(cfg);
  const auto out = (dir.path / "out").string();
  const json first = run_experiment(config, {out});
  const auto models = files_under(dir.path / "out" / "checkpoints", ".model.pt");
  REQUIRE(models.size() == 1);
  fs::resize_file(models[0], fs::file_size(models[0]) / 2);  // truncated mid-write, say
  const json again = run_experiment(config, {out});
  CHECK(again["runs"][0]["results"] == first["runs"][0]["results"]);
  CHECK(files_under(dir.path / "out" / "checkpoints", ".corrupt").size() >= 2);  // state + model set aside
  // A state file that is JSON but names a missing file and lacks stats: set aside, then retrained.
  auto states = files_under(dir.path / "out" / "checkpoints", ".json");
  REQUIRE(states.size() == 1);
  std::ofstream(states[0]) << "{\"step\": 12, \"complete\": true, \"model_file\": \"gone.pt\", \"stats\": {}}";
  const json third = run_experiment(config, {out});
  CHECK(third["runs"][0]["results"] == first["runs"][0]["results"]);
  // A state file that is not JSON at all is no checkpoint: the model is trained again.
  states = files_under(dir.path / "out" / "checkpoints", ".json");
  REQUIRE(states.size() == 1);
  std::ofstream(states[0]) << "\x01\x02 not json";
  const json fourth = run_experiment(config, {out});
  CHECK(fourth["runs"][0]["results"] == first["runs"][0]["results"]);
}

TEST_CASE("a damaged token-cache file (same size, other bytes) is rebuilt") {
  test::TempDir dir;
  const Config config = parse_config(test::small_config(test::make_corpus(dir)));
  load_corpus(config.data);
  const auto tokens = files_under(dir.path / "cache", ".train.tokens");
  REQUIRE(tokens.size() == 1);
  {
    std::fstream f(tokens[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x07');
  }
  const auto corpus = load_corpus(config.data);  // logs "tokenizing ... (does not match its recorded hash)"
  const auto fresh = load_corpus(config.data);
  CHECK(torch::equal(corpus.train, fresh.train));
  CHECK(corpus.train[100].item<int64_t>() != 7);
}

TEST_CASE("a run whose loss becomes NaN is marked failed while the others finish, tables say so, exit code 1") {
  test::TempDir dir;
  json cfg = test::small_config(test::make_corpus(dir));
  // A table scale of 1e39 overflows fp32: the first loss is NaN.
  cfg["runs"] = json::array({{{"encoding", "sinusoidal"}, {"scale", 1e39}}, {{"encoding", "rope"}}});
  const auto out = (dir.path / "out").string();
  const json report = run_experiment(parse_config(cfg), {out});
  CHECK(report["status"] == "complete");
  CHECK(report["failed_runs"] == json::array({"sinusoidal"}));
  CHECK(report["runs"][0]["status"] == "failed");
  CHECK_THAT(report["runs"][0]["error"].get<std::string>(), Catch::Contains("loss became nan"));
  CHECK(report["runs"][1]["status"] == "complete");
  CHECK(!report["runs"][1]["results"].empty());
  const auto table = render_table({report}, TableOptions{});
  CHECK_THAT(table, Catch::Contains("| sinusoidal | failed | failed |"));
  CHECK_THAT(slurp(fs::path(out) / "report.md"), Catch::Contains("run(s) failed"));
  const auto child = run_cli({"run", write_config(dir, cfg), "--out", (dir.path / "cli").string()}, dir);
  CHECK(child.exit_code == 1);
  REQUIRE(error_lines(child.err).size() == 1);
  CHECK_THAT(error_lines(child.err)[0], Catch::Contains("1 run(s) failed"));
}

TEST_CASE("SIGINT mid-training saves a checkpoint and an incomplete report, the rerun resumes") {
  test::TempDir dir;
  json cfg = test::small_config(test::make_corpus(dir));
  cfg["runs"] = json::array({{{"encoding", "rope"}}, {{"encoding", "alibi"}}});
  cfg["train"]["steps"] = 600;
  const auto config_path = write_config(dir, cfg);
  const auto out = dir.path / "out";
  const auto child = run_cli({"run", config_path, "--out", out.string()}, dir, 0, [&](pid_t pid) {
    // Wait for the first checkpoint of the first model, then interrupt.
    for (int i = 0; i < 600 && files_under(out / "checkpoints", ".model.pt").empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(pid, SIGINT);
  });
  CHECK(child.exit_code == 130);
  REQUIRE(error_lines(child.err).size() == 1);
  CHECK_THAT(error_lines(child.err)[0], Catch::Contains("interrupted") && Catch::Contains("resume"));
  const json report = read_report((out / "report.json").string());
  CHECK(report["status"] == "incomplete");
  const auto states = files_under(out / "checkpoints", ".json");
  REQUIRE(states.size() == 1);
  const int64_t saved = read_json_file(states[0].string())["step"];
  CHECK(saved > 0);
  CHECK(saved < 600);
  // The rerun continues from that step and finishes.
  const auto rerun = run_cli({"run", config_path, "--out", out.string()}, dir);
  CHECK(rerun.exit_code == 0);
  CHECK_THAT(slurp(dir.path / "child.out"), Catch::Contains(fmt::format("resuming from step {}", saved)));
  CHECK(read_report((out / "report.json").string())["status"] == "complete");
}

TEST_CASE("a write that fails (file-size limit) is one clear error and leaves no partial file") {
  test::TempDir dir;
  json cfg = test::small_config(test::make_corpus(dir));
  cfg["runs"] = json::array({{{"encoding", "rope"}}});
  load_corpus(parse_config(cfg).data);  // the token cache exists; the first big write is a checkpoint
  const auto out = dir.path / "out";
  const auto child = run_cli({"run", write_config(dir, cfg), "--out", out.string()}, dir, 32 * 1024);
  CHECK(child.exit_code == 1);
  REQUIRE(error_lines(child.err).size() == 1);
  CHECK_THAT(error_lines(child.err)[0], Catch::Contains("cannot write checkpoint"));
  CHECK(files_under(out, ".pt").empty());  // no partial tensor file
  for (const auto& e : fs::recursive_directory_iterator(out))  // no leftover PATH.tmp<pid>
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  for (const auto& f : files_under(out, ".json")) CHECK_NOTHROW(read_json_file(f.string()));  // nothing truncated
}

TEST_CASE("fuzz: thousands of mutated configs parse or fail with one line, never crash") {
  test::TempDir dir;
  const json base = test::small_config("/nonexistent/corpus");
  std::mt19937_64 rng(20261125);
  auto pick = [&](size_t n) { return size_t(rng() % std::max<size_t>(n, 1)); };
  const std::vector<json> values = {json(nullptr), json(true), json(-1), json(0), json(1), json(3), json(1e300),
                                    json(-0.5), json(0.5), json(""), json("auto"), json("rope"), json("x"),
                                    json::array(), json::array({1, "a"}), json::object(), json({{"steps", 1}}),
                                    json(int64_t(1) << 62), json(std::numeric_limits<double>::quiet_NaN())};
  int ok = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    json cfg = base;
    for (int edits = 1 + int(pick(3)); edits > 0; --edits) {
      json* node = &cfg;
      // Walk down a random path, then change, remove or add something there.
      while ((node->is_object() || node->is_array()) && !node->empty() && pick(3) != 0) {
        if (node->is_object()) {
          auto it = node->begin();
          std::advance(it, long(pick(node->size())));
          node = &it.value();
        } else {
          node = &(*node)[pick(node->size())];
        }
      }
      const size_t action = pick(4);
      if (action == 0 && node->is_object() && !node->empty()) node->erase(node->begin());
      else if (action == 1 && node->is_object()) (*node)["k" + std::to_string(pick(5))] = values[pick(values.size())];
      else *node = values[pick(values.size())];
    }
    try {
      parse_config(cfg);
      ++ok;
    } catch (const InputError& e) {
      ++rejected;
      const std::string message = e.what();
      INFO(cfg.dump());
      CHECK(!message.empty());
      CHECK(message.find('\n') == std::string::npos);
    } catch (const std::exception& e) {
      FAIL_CHECK("not a clear config error: " << e.what() << " for " << cfg.dump());
    }
  }
  INFO(ok << " parsed, " << rejected << " rejected");
  CHECK(rejected > 1000);
}

TEST_CASE("JSON files are indented, and written compactly once the compact text passes 1 MiB") {
  test::TempDir dir;
  const std::string small = (dir.path / "small.json").string(), large = (dir.path / "large.json").string();
  lb::write_json_atomic(small, nlohmann::json{{"a", {1, 2, 3}}});
  lb::write_json_atomic(large, nlohmann::json{{"a", std::vector<double>(600000, 0.125)}});  // ~3.6 MB compact
  auto lines = [](const std::string& path) {
    std::ifstream in(path);
    return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
  };
  CHECK(lines(small) > 1);
  CHECK(lines(large) == 1);
  CHECK(lb::read_json_file(large)["a"].size() == 600000);  // the same content
}
