#include <fstream>
#include <sstream>

#include "harness/report/claims.h"
#include "harness/config.h"
#include "harness/report/files.h"
#include "harness/runner.h"
#include "harness/report/tables.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

static const std::string kGoldenDir = std::string(LENGTHBENCH_SOURCE_DIR) + "/tests/golden/";

// The committed fixture (two runs, per-window sums for paired tables).
static json sample_report() { return read_report(kGoldenDir + "sample_report.json"); }

// Golden files are written only by tests/golden/update (the CLI on the fixture), never by a test.
static std::string golden(const std::string& name) {
  std::ifstream in(kGoldenDir + name);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("a report round-trips through an atomic write and read") {
  test::TempDir dir;
  const auto path = (dir.path / "sub" / "report.json").string();
  json report = sample_report();
  write_json_atomic(path, report);
  CHECK(!std::filesystem::exists(path + ".tmp"));
  CHECK(read_report(path) == report);
  write_json_atomic(path, json{{"schema", "other"}});
  CHECK_THROWS_WITH(read_report(path), Catch::Contains("not a lengthbench report"));
}

TEST_CASE("tables match their golden files (markdown, csv, latex, last-L, baseline)") {
  TableOptions t;
  auto check = [&](const std::string& file) {
    INFO(file << " (after a deliberate change: tests/golden/update, then review the diff)");
    CHECK(render_table({sample_report()}, t) == golden(file));
  };
  check("table.md");
  t.format = "csv";
  check("table.csv");
  t.format = "latex";
  check("table.tex");
  t.format = "markdown";
  t.metric = "last_l_ppl";
  check("table_last_l.md");
  t.metric = "ppl";
  t.baseline = "rope";
  check("table_baseline_rope.md");
}

TEST_CASE("table options are validated and the protocol filters results") {
  TableOptions t;
  t.protocol = "sliding";
  const auto sliding = render_table({sample_report()}, t);
  CHECK(sliding.find("2L (256)") != std::string::npos);
  CHECK(sliding.find("1L (128)") == std::string::npos);
  t.format = "html";
  CHECK_THROWS_WITH(render_table({sample_report()}, t), Catch::Contains("allowed: markdown, csv, latex"));
}

TEST_CASE("paired differences: mean per token and clustered standard error over the same windows") {
  // d = a - b = [1, 0, 2] over windows of 2 tokens: mean 3/6 = 0.5; residuals d_w - 2*0.5 =
  // [0, -1, 1], sum of squares 2; SE = sqrt(3/2 * 2) / 6 = sqrt(3)/6.
  const auto [diff, se] = paired_difference({3, 5, 4}, {2, 5, 2}, {2, 2, 2});
  CHECK(diff == Approx(0.5));
  CHECK(se == Approx(std::sqrt(3.0) / 6));
  // A constant per-window shift has no spread: the paired error is 0 however noisy the windows.
  CHECK(paired_difference({10, 1, 7}, {9, 0, 6}, {1, 1, 1}).second == Approx(0.0).margin(1e-12));
}

TEST_CASE("tables against a baseline show paired nll differences and refuse what cannot be paired") {
  auto result = [](int T, std::vector<double> sums) {
    double total = 0;
    for (double s : sums) total += s;
    return json{{"eval_length", T}, {"protocol", "nonoverlapping"}, {"nll", total / 8}, {"nll_stderr", 0.5},
                {"tokens", 8}, {"per_window", {{"nll_sum", sums}, {"tokens", {4, 4}}}}};
  };
  json runs = json::array();
  runs.push_back({{"name", "rope"}, {"train_length", 4}, {"results", {result(4, {8, 12})}}});
  runs.push_back({{"name", "yarn"}, {"train_length", 4}, {"results", {result(4, {6, 11})}}});
  const json report = {{"schema", kReportSchema}, {"name", "paired"}, {"runs", runs}};
  TableOptions t;
  t.baseline = "rope";
  // yarn - rope: d = [-2, -1] over 8 tokens, mean -0.375; residuals [-2+1.5, -1+1.5] = [-0.5, 0.5];
  // SE = sqrt(2/1 * 0.5) / 8 = 0.125.
  const auto table = render_table({report}, t);
  CHECK(table.find("| rope | 0.000 ± 0.000 |") != std::string::npos);
  CHECK(table.find("| yarn | **-0.375 ± 0.125** |") != std::string::npos);
  CHECK(table.rfind("Δ nll per token vs rope", 0) == 0);
  json other = report;  // the same runs renamed, on other data
  other["data"] = {{"path", "elsewhere"}};
  for (auto& run : other["runs"]) run["name"] = run["name"].get<std::string>() + "-other";
  CHECK_THROWS_WITH(render_table({report, other}, t), Catch::Contains("other data"));
  t.baseline = "nope";
  CHECK_THROWS_WITH(render_table({report}, t), Catch::Contains("--baseline \"nope\" names 0 runs"));
  t.baseline = "rope";
  json no_sums = sample_report();
  for (auto& run : no_sums["runs"])
    for (auto& r : run["results"]) r.erase("per_window");
  CHECK_THROWS_WITH(render_table({no_sums}, t), Catch::Contains("per-window"));
}

TEST_CASE("claims: predicates over a report get held / not held / inconclusive verdicts") {
  // 80 evaluated tokens, L = 4: 20 windows at L, 10 at 2L (each holding two L windows); every
  // pattern below repeats 5 times, so pairing has 10 clusters at both lengths.
  auto repeat = [](std::vector<double> pattern, int times) {
    std::vector<double> out;
    for (int i = 0; i < times; ++i) out.insert(out.end(), pattern.begin(), pattern.end());
    return out;
  };
  auto result = [](int T, std::vector<double> sums) {
    double total = 0;
    for (double s : sums) total += s;
    return json{{"eval_length", T}, {"protocol", "nonoverlapping"}, {"nll", total / 80}, {"nll_stderr", 0.5},
                {"tokens", 80}, {"per_window", {{"nll_sum", sums}, {"tokens", std::vector<int>(sums.size(), T)}}}};
  };
  json runs = json::array();
  runs.push_back({{"name", "rope"}, {"train_length", 4},
                  {"results", {result(4, repeat({8, 12, 8, 12}, 5)), result(8, repeat({24, 28}, 5))}}});
  runs.push_back({{"name", "alibi"}, {"train_length", 4},
                  {"results", {result(4, repeat({6, 11, 6, 11}, 5)), result(8, repeat({16, 18}, 5))}}});
  auto claim = [](std::string left, double ll, std::string op, std::string right, double rl) {
    return json{{"claim", left + op + right}, {"left", {{"run", left}, {"length", ll}}}, {"op", op},
                {"right", {{"run", right}, {"length", rl}}}};
  };
  // Clustered SE of per-cluster differences d_k over n_k tokens (independent re-derivation).
  auto se_of = [](std::vector<double> d, double n_k) {
    const double W = double(d.size()), N = W * n_k;
    double total = 0, ss = 0;
    for (double x : d) total += x;
    for (double x : d) ss += (x - n_k * total / N) * (x - n_k * total / N);
    return std::sqrt(W / (W - 1) * ss) / N;
  };
  json claims = json::array();
  claims.push_back(claim("alibi", 1, "<", "rope", 1));  // d_w = [-2, -1] x 10: mean -30/80 = -0.375
  claims.push_back(claim("rope", 1, "<", "alibi", 1));
  claims.push_back(claim("alibi", 2, "~", "alibi", 1));  // clusters of 8: d = [16-17, 18-17] x 5, mean 0
  claims.back()["tolerance"] = 0.05;
  claims.push_back(claim("alibi", 2, "~", "alibi", 1));
  claims.back()["tolerance"] = 0.3;
  claims.push_back(claim("alibi", 2, ">", "alibi", 1));
  claims.push_back(claim("rope", 2, ">", "rope", 1));  // d = [24-20, 28-20] x 5: mean 60/80 = 0.75
  const json report = {{"schema", kReportSchema}, {"name", "claims"}, {"runs", runs},
                       {"evaluation", {{"tokens", 80}, {"sliding_stride", 4}}}, {"config", {{"claims", claims}}}};
  const auto v = evaluate_claims(report);
  REQUIRE(v.size() == 6);
  const double se0 = se_of(repeat({-2, -1}, 10), 4), se2 = se_of(repeat({-1, 1}, 5), 8), se5 = se_of(repeat({4, 8}, 5), 8);
  CHECK(v[0]["stderr_kind"] == "paired");
  CHECK(v[0]["difference"].get<double>() == Approx(-0.375));
  CHECK(v[0]["stderr"].get<double>() == Approx(se0));
  CHECK(v[0]["verdict"] == "held");
  CHECK(v[1]["verdict"] == "not held");
  CHECK(v[2]["stderr_kind"] == "paired");
  CHECK(v[2]["difference"].get<double>() == Approx(0.0).margin(1e-12));
  CHECK(v[2]["stderr"].get<double>() == Approx(se2));
  CHECK(v[2]["verdict"] == "inconclusive");  // 2se ~ 0.083: straddles the 0.05 tolerance
  CHECK(v[3]["verdict"] == "held");          // within 0.3
  CHECK(v[4]["verdict"] == "inconclusive");  // d = 0: neither direction
  CHECK(v[5]["difference"].get<double>() == Approx(0.75));
  CHECK(v[5]["stderr"].get<double>() == Approx(se5));
  CHECK(v[5]["verdict"] == "held");
  // A difference that is certain but smaller than the margin is not "better".
  json strict = report;
  strict["config"]["claims"] = json::array({claims[0]});
  strict["config"]["claims"][0]["margin"] = 0.6;  // d ± 2se ~ [-0.43, -0.32]: certainly less than 0.6
  CHECK(evaluate_claims(strict)[0]["verdict"] == "not held");
  strict["config"]["claims"][0]["margin"] = 0.375;  // the margin lies inside the interval
  CHECK(evaluate_claims(strict)[0]["verdict"] == "inconclusive");
  // Fewer than 10 clusters, or no per-window sums (older reports): the two errors are combined.
  json few = report;
  for (auto& run : few["runs"]) {
    run["results"][0]["per_window"]["nll_sum"] = std::vector<double>(run["results"][0]["per_window"]["nll_sum"].begin(),
                                                                     run["results"][0]["per_window"]["nll_sum"].begin() + 8);
    run["results"][0]["per_window"]["tokens"] = std::vector<int>(8, 4);
    run["results"][0]["tokens"] = 32;
  }
  few["evaluation"]["tokens"] = 32;
  CHECK(evaluate_claims(few)[0]["stderr_kind"] == "independent");
  json old = report;
  old.erase("evaluation");
  const auto fallback = evaluate_claims(old);
  CHECK(fallback[2]["stderr_kind"] == "independent");
  CHECK(fallback[2]["stderr"].get<double>() == Approx(std::hypot(0.5, 0.5)));
}

TEST_CASE("claims in a config are checked against its runs and lengths") {
  json cfg = json::parse(R"({"runs": [{"encoding": "rope"}, {"encoding": "alibi"}], "eval": {"lengths": [1, 4]}})");
  auto with = [&](json claim) {
    json c = cfg;
    c["claims"] = json::array({claim});
    return c;
  };
  json ok = {{"claim", "x"}, {"left", {{"run", "alibi"}, {"length", 4}}}, {"op", "<"}, {"right", {{"run", "rope"}, {"length", 4}}}};
  CHECK_NOTHROW(parse_config(with(ok)));
  auto bad = ok;
  bad["left"]["run"] = "t5";
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("\"claims[0].left.run\" is \"t5\"") && Catch::Contains("rope, alibi"));
  bad = ok;
  bad["right"]["length"] = 2;
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("\"claims[0].right.length\" is 2, not in eval.lengths"));
  bad = ok;
  bad["op"] = "<=";
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("\"claims[0].op\" must be one of <, >, ~"));
  bad = ok;
  bad["op"] = "~";
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("tolerance"));
  bad = ok;
  bad["protocol"] = "sliding";  // eval.protocols defaults to nonoverlapping only
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("eval.protocols"));
  bad = ok;
  bad["slack"] = 1;
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("unknown key \"slack\""));
  bad = ok;
  bad["op"] = "~";
  bad["tolerance"] = 0.1;
  bad["margin"] = 0.1;
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("margin"));
}
