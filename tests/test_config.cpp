#include "harness/run/config_load.h"
#include "harness/config/config.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

static json minimal() { return {{"runs", {{{"encoding", "rope"}}}}}; }

TEST_CASE("defaults fill every key and run names default to encoding+scaling") {
  json user = minimal();
  user["runs"].push_back({{"encoding", "rope"}, {"scaling", "pi"}, {"factor", 2}});
  auto c = parse_config(user);
  CHECK(c.train.length == 128);
  CHECK(c.eval_lengths() == std::vector<int64_t>{128, 256, 384, 512});
  CHECK(c.runs[0].name == "rope");
  CHECK(c.runs[1].name == "rope+pi");
  CHECK(*c.runs[1].scaling.factor == 2.0);
  CHECK(!c.runs[0].scaling.factor.has_value());  // "auto"
  CHECK(c.resolved["runs"][0]["factor"].is_null());  // no scaling, no factor
  user["runs"].push_back({{"encoding", "rope"}, {"scaling", "ntk"}});
  CHECK(parse_config(user).resolved["runs"][2]["factor"] == "auto");
  CHECK(c.eval.sliding_stride == 64);  // train.length / 2
}

TEST_CASE("unknown keys fail naming the key and the allowed ones") {
  json user = minimal();
  user["train"] = {{"stepz", 10}};
  CHECK_THROWS_WITH(parse_config(user), Catch::Contains("unknown config key \"train.stepz\"") && Catch::Contains("steps"));
  json top = minimal();
  top["optimizer"] = "sgd";
  CHECK_THROWS_WITH(parse_config(top), Catch::Contains("\"optimizer\""));
}

TEST_CASE("wrong types fail naming the key") {
  json user = minimal();
  user["train"] = {{"steps", "many"}};
  CHECK_THROWS_WITH(parse_config(user), Catch::Contains("\"train.steps\" must be an integer"));
  user["train"] = {{"steps", 1.5}};
  CHECK_THROWS_WITH(parse_config(user), Catch::Contains("\"train.steps\" must be an integer"));
  json lengths = minimal();
  lengths["eval"] = {{"lengths", {1, "2"}}};
  CHECK_THROWS_WITH(parse_config(lengths), Catch::Contains("eval.lengths[1]"));
  json p = minimal();
  p["precision"] = "fp16";
  CHECK_THROWS_WITH(parse_config(p), Catch::Contains("allowed: auto, bf16, fp32"));
}

TEST_CASE("run entries: encoding, scaling, factor and options are validated") {
  auto with_run = [](json run) { return json{{"runs", {run}}}; };
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rotary"}})), Catch::Contains("runs[0].encoding") && Catch::Contains("allowed: nope"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"scaling", "linear"}})), Catch::Contains("allowed: none, pi"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "alibi"}, {"scaling", "pi"}})), Catch::Contains("needs an encoding that takes scalings (rope, xpos)"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"factor", 0.5}})), Catch::Contains("runs[0].factor"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"beta_fast", 8}})), Catch::Contains("runs[0].beta_fast"));
  auto c = parse_config(with_run({{"encoding", "rope"}, {"scaling", "yarn"}, {"beta_fast", 16}, {"base", 500000}}));
  CHECK(c.runs[0].scaling.options["beta_fast"] == 16);
  CHECK(c.runs[0].scaling.options["beta_slow"] == 1.0);
  CHECK(c.runs[0].encoding_options["base"] == 500000);
  auto exact = parse_config(with_run({{"encoding", "rope"}, {"scaling", "dynamic-ntk"}, {"exact_chunk", "auto"}}));
  CHECK(exact.runs[0].scaling.exact_chunk == 0);
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"scaling", "yarn"}, {"factor", 4}, {"exact_chunk", 16}})),
                    Catch::Contains("runs[0].exact_chunk") && Catch::Contains("factor follows the length"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"scaling", "dynamic-ntk"}, {"exact_chunk", 0}})),
                    Catch::Contains("runs[0].exact_chunk") && Catch::Contains("\"auto\" (L/4) or a number of tokens >= 1"));
  CHECK_THROWS_WITH(parse_config(json{{"runs", json::array()}}), Catch::Contains("\"runs\""));
  CHECK_THROWS_WITH(parse_config(json{{"runs", {{{"encoding", "rope"}}, {{"encoding", "rope"}}}}}), Catch::Contains("duplicate"));
}

TEST_CASE("config overrides (--set) parse JSON values, fall back to strings, and index arrays") {
  json user = minimal();
  apply_override(user, "train.steps=42");
  apply_override(user, "data.path=some/dir");
  apply_override(user, "eval.lengths=[1,1.5,2]");
  apply_override(user, "runs.0.encoding=alibi");
  auto c = parse_config(user);
  CHECK(c.train.steps == 42);
  CHECK(c.data.path == "some/dir");
  CHECK(c.eval_lengths() == std::vector<int64_t>{128, 192, 256});
  CHECK(c.runs[0].encoding == "alibi");
  CHECK_THROWS_WITH(apply_override(user, "train.steps"), Catch::Contains("key.path=value"));
  CHECK_THROWS_WITH(apply_override(user, "runs.5.encoding=x"), Catch::Contains("out of range"));
}

TEST_CASE("every config under configs/ parses, claims included") {
  int parsed = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(LENGTHBENCH_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    INFO(entry.path().string());
    Config c;
    REQUIRE_NOTHROW(c = load_config(entry.path().string()));
    CHECK(!c.runs.empty());
    if (entry.path().parent_path().filename() == "papers") CHECK(!c.resolved["claims"].empty());
    ++parsed;
  }
  CHECK(parsed >= 6);  // quick, compare and the four papers
  CHECK_THROWS_WITH(load_config("/nonexistent.json"), Catch::Contains("/nonexistent.json"));
}

TEST_CASE("defaults come from the structs: one source for keys, values and types") {
  const json& d = config_defaults();
  const Config defaults;
  CHECK(d["train"]["length"] == defaults.train.length);
  CHECK(d["precision"] == "auto");
  CHECK(d["eval"]["passkey"]["depths"] == json(defaults.eval.passkey.depths));
  // A parsed config with nothing set equals the structs' defaults, field by field.
  const Config c = parse_config(minimal());
  CHECK(c.resolved["train"] == d["train"]);
  CHECK(c.resolved["model"] == d["model"]);
  CHECK(c.data.tokenizer.vocab_size == defaults.data.tokenizer.vocab_size);
  // Types follow the struct: a double may be given as any number, an integer only as an integer.
  json half = minimal();
  half["eval"] = {{"bucket_width", 0.5}};
  CHECK(parse_config(half).eval.bucket_width == 0.5);
  json lr = minimal();
  lr["train"] = {{"lr", 1}};
  CHECK(parse_config(lr).train.lr == 1.0);
  // A run's finetune takes FinetuneConfig's defaults.
  json ft = json{{"runs", {{{"encoding", "rope"}, {"scaling", "pi"}, {"factor", 2}, {"finetune", {{"steps", 5}}}}}}};
  const auto run = parse_config(ft).runs[0];
  CHECK(run.finetune.steps == 5);
  CHECK(run.finetune.length == FinetuneConfig{}.length);
}

TEST_CASE("a run entry's grid expands into one named run per combination of values") {
  json cfg = json::parse(R"({"runs": [{"encoding": "rope", "grid": {"base": [500, 10000], "scaling": ["none", "ntk"]}},
                                      {"name": "w", "encoding": "window", "grid": {"width": [16, 32]}},
                                      {"encoding": "alibi"}]})");
  const Config c = parse_config(cfg);
  std::vector<std::string> names;
  for (const auto& run : c.runs) names.push_back(run.name);
  CHECK(names == std::vector<std::string>{"rope base=500 scaling=none", "rope base=500 scaling=ntk",
                                          "rope base=10000 scaling=none", "rope base=10000 scaling=ntk",
                                          "w width=16", "w width=32", "alibi"});
  CHECK(c.runs[1].scaling.method == "ntk");
  CHECK(c.runs[2].encoding_options["base"] == 10000);
  CHECK(c.runs[5].encoding_options["width"] == 32);
  CHECK(c.resolved["runs"].size() == 7);  // the report shows the runs as expanded
  CHECK(!c.resolved["runs"][0].contains("grid"));
  cfg["runs"][0]["grid"]["base"] = json::array();
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("runs[0].grid\".base must be a non-empty list"));
  cfg["runs"][0]["grid"] = {{"bse", {1, 2}}};
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("unknown config key") && Catch::Contains("bse"));
  cfg["runs"][0]["grid"] = {{"base", {1, 2}}};
  cfg["runs"][0]["base"] = 3;
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("must not also be set"));
}

TEST_CASE("a claim comparing one computation with itself is a config error: it cannot fail") {
  auto side = [](const std::string& run, double length) { return json{{"run", run}, {"length", length}}; };
  json user = {{"eval", {{"lengths", {1, 2}}}},
               {"runs", {{{"encoding", "rope"}}, {{"encoding", "rope"}, {"scaling", "dynamic-ntk"}}, {{"encoding", "alibi"}}}}};
  auto claim = [&](double length, const std::string& right) {
    return json{{"claim", "c"}, {"left", side("rope+dynamic-ntk", length)}, {"op", "~"}, {"right", side(right, length)},
                {"tolerance", 0.01}};
  };
  // Dynamic NTK's factor is 1 up to L: at 1L it is plain RoPE's computation on the same weights.
  user["claims"] = {claim(1, "rope")};
  CHECK_THROWS_WITH(parse_config(user), Catch::Contains("claims[0]") && Catch::Contains("cannot fail"));
  user["claims"] = {claim(2, "rope")};  // past L the frequencies differ
  CHECK_NOTHROW(parse_config(user));
  user["claims"] = {claim(1, "alibi")};  // other weights
  CHECK_NOTHROW(parse_config(user));
}
