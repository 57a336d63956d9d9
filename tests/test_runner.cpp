// End to end on a small generated corpus: train, fine-tune, evaluate, report, resume.
#include <filesystem>
#include <thread>

#include "harness/run/config_load.h"
#include "harness/report/files.h"
#include "harness/report/publish.h"
#include "harness/run/experiment.h"
#include "harness/run/precision_probe.h"
#include "harness/run/shard_plan.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

using test::make_corpus;
using test::small_config;

TEST_CASE("run: one trained rope model serves every scaling and the report is complete and resumable") {
  test::TempDir dir;
  const auto data = make_corpus(dir);
  const auto out = (dir.path / "out").string();
  Config config = parse_config(small_config(data));
  json report = run_experiment(config, {out});

  CHECK(report["status"] == "complete");
  CHECK(report["schema"] == kReportSchema);
  CHECK(report["environment"]["threads"] == 2);  // set once for the process (tests/main.cpp)
  CHECK(report["environment"]["precision"]["requested"] == "auto");
  // auto: fp32 without native bf16; with it, the faster of the two as measured (and recorded).
  const json& precision = report["environment"]["precision"];
  if (precision["cpu_flags"].dump().find("bf16") == std::string::npos) {
    CHECK(precision["effective"] == "fp32");
  } else {
    REQUIRE(precision.contains("measured"));
    const bool bf16_faster = precision["measured"]["bf16_tokens_per_second"] > precision["measured"]["fp32_tokens_per_second"];
    CHECK(precision["effective"] == (bf16_faster ? "bf16" : "fp32"));
  }
  REQUIRE(report["runs"].size() == 4);
  const auto& runs = report["runs"];
  CHECK(runs[0]["seeds"][0]["checkpoint"] == runs[1]["seeds"][0]["checkpoint"]);  // rope and rope+yarn: one model
  CHECK(runs[0]["trained_model"] == runs[1]["trained_model"]);
  CHECK(runs[0]["seeds"][0]["checkpoint"] != runs[3]["seeds"][0]["checkpoint"]);
  CHECK(runs[2]["trained_model"] != runs[0]["trained_model"]);  // fine-tuned: another model
  CHECK(runs[2]["seeds"][0]["finetune"]["steps"] == 3);
  CHECK(runs[2]["seeds"][0]["finetune"]["length"] == 32);
  CHECK(report["evaluation"]["sliding_stride"] == 8);
  CHECK(report["evaluation"]["documents"].get<int>() >= 2);
  for (const auto& run : runs) {
    REQUIRE(run["results"].size() == 4);  // 2 lengths x 2 protocols
    for (const auto& r : run["results"]) {
      CHECK(r["tokens"] == 512);
      CHECK(r["ppl"].get<double>() > 1.0);
    }
  }
  CHECK(read_report(out + "/report.json") == report);
  CHECK(std::filesystem::exists(out + "/report.md"));
  CHECK(std::filesystem::exists(out + "/table.csv"));

  // A second invocation over a complete report evaluates again but retrains nothing.
  const auto ckpt_dir = out + "/checkpoints/";
  const auto ckpt = ckpt_dir + read_json_file(ckpt_dir + runs[0]["seeds"][0]["checkpoint"].get<std::string>() + ".json")["model_file"].get<std::string>();
  REQUIRE(std::filesystem::exists(ckpt));
  const auto mtime = std::filesystem::last_write_time(ckpt);
  json again = run_experiment(config, {out});
  for (size_t i = 0; i < runs.size(); ++i) CHECK(again["runs"][i]["results"] == runs[i]["results"]);
  CHECK(std::filesystem::last_write_time(ckpt) == mtime);

  // An interrupted invocation (status incomplete) keeps the runs it finished, verbatim.
  json partial = report;
  partial["status"] = "incomplete";
  partial["runs"][0]["seeds"][0]["eval_seconds"] = -1.0;  // a marker that only a kept run can carry
  partial["runs"].erase(3);
  write_json_atomic(out + "/report.json", partial);
  json resumed = run_experiment(config, {out});
  REQUIRE(resumed["runs"].size() == 4);
  CHECK(resumed["runs"][0]["seeds"][0]["eval_seconds"] == -1.0);
  CHECK(resumed["runs"][3]["results"] == runs[3]["results"]);
  CHECK(resumed["status"] == "complete");
}

TEST_CASE("run: logn and an inference window reach the evaluation of the shared trained model") {
  test::TempDir dir;
  json cfg = small_config(make_corpus(dir));
  cfg["eval"]["protocols"] = {"nonoverlapping"};
  cfg["runs"] = {{{"encoding", "rope"}},
                 {{"name", "rope+logn"}, {"encoding", "rope"}, {"logn", true}},
                 {{"name", "rope+window"}, {"encoding", "rope"}, {"eval_window", 4}}};
  json report = run_experiment(parse_config(cfg), {(dir.path / "out").string()});
  const auto& runs = report["runs"];
  CHECK(runs[0]["trained_model"] == runs[1]["trained_model"]);
  CHECK(runs[0]["trained_model"] == runs[2]["trained_model"]);
  auto nll = [&](int run, int length) { return runs[run]["results"][length]["nll"].get<double>(); };
  CHECK(nll(1, 0) == nll(0, 0));  // logN is 1 up to L
  CHECK(nll(1, 1) != nll(0, 1));
  CHECK(nll(2, 0) != nll(0, 0));  // a 4-token window inside L = 16
}

TEST_CASE("run: too little held-out data for the longest length is a clear error") {
  test::TempDir dir;
  auto cfg = small_config(make_corpus(dir));
  cfg["eval"]["lengths"] = {1, 1024};  // 16384-token windows: more than the held-out split
  CHECK_THROWS_WITH(run_experiment(parse_config(cfg), {(dir.path / "out").string()}),
                    Catch::Contains("held-out split has") && Catch::Contains("needs at least 32761") &&
                        Catch::Contains("16376 tokens of sliding-window context"));
}

TEST_CASE("run: shards deal whole trained models, and merging them gives the unsharded report") {
  test::TempDir dir;
  const auto data = make_corpus(dir);
  json cfg = small_config(data);
  cfg["runs"] = json::parse(R"([{"encoding": "rope"}, {"encoding": "t5"}, {"encoding": "rope", "scaling": "yarn"},
                                {"encoding": "alibi"}])");
  cfg["eval"]["protocols"] = {"nonoverlapping"};
  Config config = parse_config(cfg);
  const json whole = run_experiment(config, {(dir.path / "whole").string()});
  RunOptions s1{(dir.path / "s1").string(), 1, 2}, s2{(dir.path / "s2").string(), 2, 2};
  const json one = run_experiment(config, s1), two = run_experiment(config, s2);
  // Dealt by cost: rope (two runs to evaluate) is the largest -> shard 1; t5 and alibi cost the
  // same, so both go to the less loaded shard 2.
  CHECK(one["shard"]["runs"] == json({"rope seed 1234", "rope+yarn seed 1234"}));
  CHECK(two["shard"]["runs"] == json({"t5 seed 1234", "alibi seed 1234"}));
  CHECK_THROWS_WITH(merge_reports({one}, (dir.path / "bad").string()), Catch::Contains("shard 2/2 is missing"));
  CHECK_THROWS_WITH(merge_reports({one, one}, (dir.path / "bad").string()), Catch::Contains("given twice"));
  const json merged = merge_reports({two, one}, (dir.path / "merged").string());
  CHECK(merged["status"] == "complete");
  REQUIRE(merged["runs"].size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(merged["runs"][i]["name"] == whole["runs"][i]["name"]);
    // Training and evaluation are deterministic, so a shard computes what the whole run did.
    CHECK(merged["runs"][i]["results"][1]["nll"].get<double>() == Approx(whole["runs"][i]["results"][1]["nll"].get<double>()));
  }
  CHECK(std::filesystem::exists(dir.path / "merged" / "report.md"));
  RunOptions too_many{(dir.path / "s9").string(), 1, 9};
  CHECK_THROWS_WITH(run_experiment(config, too_many), Catch::Contains("trains 3 models"));
}

TEST_CASE("seeds: each run trains once per seed, cells are means over seeds, and shards deal (model, seed)") {
  test::TempDir dir;
  json cfg = small_config(make_corpus(dir));
  cfg["runs"] = json::parse(R"([{"encoding": "rope"}, {"encoding": "rope", "scaling": "yarn"}])");
  cfg["eval"]["protocols"] = {"nonoverlapping"};
  cfg["seeds"] = {1, 2};
  const Config config = parse_config(cfg);
  const json whole = run_experiment(config, {(dir.path / "whole").string()});
  REQUIRE(whole["runs"].size() == 2);
  const auto& rope = whole["runs"][0];
  REQUIRE(rope["seeds"].size() == 2);
  CHECK(rope["seeds"][0]["seed"] == 1);
  CHECK(rope["seeds"][0]["checkpoint"] != rope["seeds"][1]["checkpoint"]);  // two trainings
  const auto& cell = rope["results"][0];
  const double m1 = rope["seeds"][0]["results"][0]["nll"], m2 = rope["seeds"][1]["results"][0]["nll"];
  CHECK(m1 != m2);
  CHECK(cell["nll"].get<double>() == Approx((m1 + m2) / 2));
  CHECK(cell["seed_nll"] == json({m1, m2}));
  CHECK(cell["stderr_parts"]["seeds"].get<double>() == Approx(std::abs(m1 - m2) / 2));
  // One model per seed is a shard unit: with two shards, each seed's rope (and its yarn run) goes whole.
  RunOptions s1{(dir.path / "s1").string(), 1, 2}, s2{(dir.path / "s2").string(), 2, 2};
  const json one = run_experiment(config, s1), two = run_experiment(config, s2);
  CHECK(one["shard"]["runs"] == json({"rope seed 1", "rope+yarn seed 1"}));
  CHECK(two["shard"]["runs"] == json({"rope seed 2", "rope+yarn seed 2"}));
  const json merged = merge_reports({two, one}, (dir.path / "merged").string());
  for (size_t i = 0; i < 2; ++i)
    CHECK(merged["runs"][i]["results"][0]["nll"].get<double>() == Approx(whole["runs"][i]["results"][0]["nll"].get<double>()));
}

TEST_CASE("shard plans deal trained models by cost, largest first, to the least-loaded shard") {
  json cfg = test::small_config("/unused");
  cfg["runs"] = json::parse(R"([{"encoding": "alibi"}, {"encoding": "rope"}, {"encoding": "rope", "scaling": "pi"},
                                {"encoding": "rope", "scaling": "ntk"}, {"encoding": "t5"}, {"encoding": "nope"},
                                {"name": "rope-5e5", "encoding": "rope", "base": 500000}])");
  const Config config = parse_config(cfg);
  const auto plan = plan_shards(config, 2);
  REQUIRE(plan.size() == 5);  // rope with its scalings is one unit; rope at another base is another
  CHECK(plan[1].runs == std::vector<std::string>{"rope", "rope+pi", "rope+ntk"});
  // Cost in units of parameters x tokens: training 768 tokens; evaluating one run 4096 tokens
  // (512 non-overlapping + 3 x 1024 sliding at stride 8, over T = 16 and 32) / 3 = 1365. rope with
  // three runs costs 768 + 3 x 1365 = 4864, each one-run model 2133. rope goes first, to shard 1;
  // then alibi -> 2 (2133), t5 -> 2 (4266 < 4864), nope -> 2 (4266 < 4864), rope-5e5 -> 1 (4864 < 6399).
  CHECK(shard_of(plan, "rope+ntk", 1234) == 1);
  CHECK(shard_of(plan, "alibi", 1234) == 2);
  CHECK(shard_of(plan, "t5", 1234) == 2);
  CHECK(shard_of(plan, "nope", 1234) == 2);
  CHECK(shard_of(plan, "rope-5e5", 1234) == 1);
  const auto text = describe_plan(plan, 2);
  CHECK_THAT(text, Catch::Contains("shard 1/2:") && Catch::Contains("shard 2/2:") && Catch::Contains("% of the estimated cost"));
  // The plan depends on the config only: the same config always splits the same way.
  CHECK(describe_plan(plan_shards(config, 2), 2) == text);
}

TEST_CASE("threads are set once per process: 0 means every core") {
  CHECK(use_threads(1) == 1);
  CHECK(at::get_num_threads() == 1);
  CHECK(use_threads(0) == int(std::max(1u, std::thread::hardware_concurrency())));
  CHECK(at::get_num_threads() == int(std::max(1u, std::thread::hardware_concurrency())));
  use_threads(2);  // as tests/main.cpp set it
}

TEST_CASE("train.fuse_seeds trains a run's seeds as one model and the results match training them one by one") {
  test::TempDir dir;
  const auto data = make_corpus(dir);
  json cfg = small_config(data);
  cfg["seeds"] = {1, 2};
  cfg["runs"] = {{{"encoding", "rope"}}, {{"encoding", "t5"}}};
  cfg["eval"]["protocols"] = {"nonoverlapping"};
  json one_by_one = run_experiment(parse_config(cfg), {(dir.path / "solo").string()});
  cfg["train"]["fuse_seeds"] = true;
  json fused = run_experiment(parse_config(cfg), {(dir.path / "fused").string()});
  REQUIRE(fused["status"] == "complete");
  // The same trained-model identity either way (fusing is scheduling), so checkpoints are shared.
  CHECK(fused["runs"][0]["trained_model"] == one_by_one["runs"][0]["trained_model"]);
  CHECK(fused["runs"][0]["seeds"][0]["train"]["fused_seeds"] == json({1, 2}));
  CHECK(!fused["runs"][1]["seeds"][0]["train"].contains("fused_seeds"));  // t5 learns positions: one by one
  for (size_t run = 0; run < 2; ++run)
    for (size_t i = 0; i < 2; ++i)
      CHECK(fused["runs"][run]["results"][i]["nll"].get<double>() ==
            Approx(one_by_one["runs"][run]["results"][i]["nll"].get<double>()).margin(1e-4));
}

TEST_CASE("the precision measurement is recorded per machine and model, and reused instead of timed again") {
  test::TempDir dir;
  json cfg = json::parse(R"({"model": {"layers": 1, "d_model": 32, "heads": 2},
                             "train": {"length": 16, "batch_size": 4}, "runs": [{"encoding": "rope"}]})");
  cfg["data"] = {{"cache_dir", (dir.path / "cache").string()}};
  const Config c = parse_config(cfg);
  const Hardware hw{"test CPU", {"avx512f", "avx512_bf16"}, 0};
  const auto batches = stream_batches(torch::randint(256, {4096}, torch::kUInt8));
  const PrecisionRates first = precision_rates(c, c.runs[0], batches, 256, 32, hw, 1);
  CHECK(first.bf16 > 0);
  CHECK(first.fp32 > 0);
  CHECK_THAT(first.source, Catch::StartsWith("measured now"));
  const std::string record = precision_record_path(c, c.runs[0], 256, hw, 1);
  REQUIRE(std::filesystem::exists(record));
  const PrecisionRates again = precision_rates(c, c.runs[0], batches, 256, 32, hw, 1);
  CHECK(again.bf16 == first.bf16);  // the record, not a new timing
  CHECK(again.fp32 == first.fp32);
  CHECK_THAT(again.source, Catch::StartsWith("recorded in"));
  // Another machine (or thread count, or model) has its own record.
  CHECK(precision_record_path(c, c.runs[0], 256, Hardware{"other CPU", hw.cpu_flags, 0}, 1) != record);
  CHECK(precision_record_path(c, c.runs[0], 256, hw, 2) != record);
  // An unreadable record is measured again.
  std::ofstream(record) << "{ truncated";
  CHECK_THAT(precision_rates(c, c.runs[0], batches, 256, 32, hw, 1).source, Catch::StartsWith("measured now"));
}
