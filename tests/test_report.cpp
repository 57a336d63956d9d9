#include <fstream>
#include <sstream>

#include "harness/run/config_load.h"
#include "harness/report/claims.h"
#include "harness/config/config.h"
#include "harness/report/files.h"
#include "harness/run/experiment.h"
#include "harness/report/tables.h"
#include "harness/core/statistics.h"
#include "harness/core/student_t.h"
#include "harness/report/claims_check.h"
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

TEST_CASE("paired differences: mean per token and clustered standard error over the same documents") {
  // d = a - b = [1, 0, 2] over documents of 2 tokens: mean 3/6 = 0.5; residuals d_k - 2*0.5 =
  // [0, -1, 1], sum of squares 2; SE = sqrt(3/2 * 2) / 6 = sqrt(3)/6.
  // Equal documents: CR2's (1 - 1/3)^-1 = 3/2 is CR1's D/(D-1), and Bell-McCaffrey's df is D - 1.
  const auto [diff, error] = paired_difference({3, 5, 4}, {2, 5, 2}, {2, 2, 2});
  CHECK(diff == Approx(0.5));
  CHECK(error.se == Approx(std::sqrt(3.0) / 6));
  CHECK(error.df == Approx(2.0));
  // A constant per-document shift has no spread: the paired error is 0 however noisy the documents.
  CHECK(paired_difference({10, 1, 7}, {9, 0, 6}, {1, 1, 1}).error.se == Approx(0.0).margin(1e-12));
}

// A result cell as the evaluator writes it, over documents 0..n-1 with `tokens` tokens each.
static json doc_result(int T, std::vector<double> sums, int tokens_per_doc, std::vector<double> seed_nll = {}) {
  double total = 0;
  for (double s : sums) total += s;
  std::vector<int64_t> ids(sums.size()), tokens(sums.size(), tokens_per_doc);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i);
  json r = {{"eval_length", T}, {"protocol", "nonoverlapping"}, {"nll", total / double(tokens_per_doc * sums.size())},
            {"nll_stderr", 0.5}, {"tokens", tokens_per_doc * int(sums.size())},
            {"per_document", {{"ids", ids}, {"nll_sum", sums}, {"tokens", tokens}}}};
  if (!seed_nll.empty()) r["seed_nll"] = seed_nll;
  return r;
}

TEST_CASE("tables against a baseline show paired nll differences and refuse what cannot be paired") {
  json runs = json::array();
  runs.push_back({{"name", "rope"}, {"train_length", 4}, {"trained_model", "m"}, {"results", {doc_result(4, {8, 12}, 4)}}});
  runs.push_back({{"name", "yarn"}, {"train_length", 4}, {"trained_model", "m"}, {"results", {doc_result(4, {6, 11}, 4)}}});
  const json report = {{"schema", kReportSchema}, {"name", "paired"}, {"runs", runs}};
  TableOptions t;
  t.baseline = "rope";
  // yarn - rope: d = [-2, -1] over 8 tokens, mean -0.375; residuals [-2+1.5, -1+1.5] = [-0.5, 0.5];
  // SE = sqrt(2/1 * 0.5) / 8 = 0.125.
  const auto table = render_table({report}, t);
  CHECK(table.find("| rope | 0.000 ± 0.000‡ |") != std::string::npos);  // one seed: conditional on the checkpoint
  CHECK(table.find("| yarn | **-0.375 ± 0.125‡** |") != std::string::npos);
  CHECK(table.find("‡ one training seed") != std::string::npos);
  // A report from before the "seeds" key: the per-seed means say how many seeds a cell averages.
  json older = report;
  for (auto& run : older["runs"]) run["results"][0]["seed_nll"] = {1.0, 1.1, 1.2};
  TableOptions plain;
  const auto three = render_table({older}, plain);
  CHECK(three.find("‡") == std::string::npos);
  CHECK(table.rfind("Δ nll per token vs rope", 0) == 0);
  json other = report;  // the same runs renamed, on other data
  other["data"] = {{"path", "elsewhere"}};
  for (auto& run : other["runs"]) run["name"] = run["name"].get<std::string>() + "-other";
  CHECK_THROWS_WITH(render_table({report, other}, t), Catch::Contains("other data"));
  t.baseline = "nope";
  CHECK_THROWS_WITH(render_table({report}, t), Catch::Contains("--baseline \"nope\" names 0 runs"));
  t.baseline = "rope";
  json no_sums = report;
  for (auto& run : no_sums["runs"])
    for (auto& r : run["results"]) r.erase("per_document");
  CHECK_THROWS_WITH(render_table({no_sums}, t), Catch::Contains("re-run"));
  // Separately trained, one seed each: the difference is shown without an error.
  json separate = report;
  separate["runs"][1]["trained_model"] = "other";
  CHECK(render_table({separate}, t).find("| yarn | **-0.375 ± n/a** |") != std::string::npos);
}

TEST_CASE("claims: verdicts from document- and seed-paired errors with a t quantile") {
  // 10 documents of 8 tokens. rope+ntk is rope's model with another scaling (same trained_model);
  // alibi is trained separately.
  auto repeat = [](std::vector<double> pattern, int times) {
    std::vector<double> out;
    for (int i = 0; i < times; ++i) out.insert(out.end(), pattern.begin(), pattern.end());
    return out;
  };
  json runs = json::array();
  runs.push_back({{"name", "rope"}, {"train_length", 4}, {"trained_model", "m1"},
                  {"results", {doc_result(4, repeat({8, 12}, 5), 8), doc_result(8, repeat({24, 28}, 5), 8)}}});
  runs.push_back({{"name", "rope+ntk"}, {"train_length", 4}, {"trained_model", "m1"},
                  {"results", {doc_result(4, repeat({6, 11}, 5), 8), doc_result(8, repeat({7, 13}, 5), 8)}}});
  runs.push_back({{"name", "alibi"}, {"train_length", 4}, {"trained_model", "m2"},
                  {"results", {doc_result(4, repeat({6, 11}, 5), 8), doc_result(8, repeat({6, 11}, 5), 8)}}});
  auto claim = [](std::string left, double ll, std::string op, std::string right, double rl) {
    return json{{"claim", left + op + right}, {"left", {{"run", left}, {"length", ll}}}, {"op", op},
                {"right", {{"run", right}, {"length", rl}}}};
  };
  json claims = json::array();
  claims.push_back(claim("rope+ntk", 1, "<", "rope", 1));  // d_k = [-2, -1] x 5 over 80 tokens: -0.1875
  claims.push_back(claim("rope", 1, "<", "rope+ntk", 1));
  claims.push_back(claim("rope+ntk", 2, "~", "rope+ntk", 1));  // d_k = [1, 2] x 5: 0.1875
  claims.back()["tolerance"] = 0.1;
  claims.push_back(claim("rope+ntk", 2, "<=", "rope+ntk", 1));
  claims.back()["margin"] = 0.25;
  claims.push_back(claim("alibi", 1, "<", "rope", 1));  // separately trained, one seed: no honest error
  const json report = {{"schema", kReportSchema}, {"name", "claims"}, {"runs", runs}, {"config", {{"claims", claims}}}};
  const auto v = evaluate_claims(report);
  REQUIRE(v.size() == 5);
  // Hand-computed: d_k - 8 * mean = [-2 + 1.5, -1 + 1.5] = [-0.5, 0.5] x 5, ss = 2.5;
  // se = sqrt(10/9 * 2.5) / 80 = 0.020833 (CR2 = CR1 for equal documents); t(9) = 2.262;
  // interval -0.1875 ± 0.0471.
  CHECK(v[0]["difference"].get<double>() == Approx(-0.1875));
  CHECK(v[0]["stderr"].get<double>() == Approx(std::sqrt(10.0 / 9 * 2.5) / 80));
  CHECK(v[0]["critical_value"].get<double>() == Approx(2.262157).epsilon(1e-6));
  CHECK(v[0]["stderr_kind"] == "paired by 10 documents, 1 seed");
  CHECK(v[0]["verdict"] == "held");
  CHECK(v[1]["verdict"] == "not held");
  CHECK(v[2]["difference"].get<double>() == Approx(0.1875));
  CHECK(v[2]["verdict"] == "not held");  // 0.1875 - 0.047 > 0.1
  CHECK(v[3]["verdict"] == "held");      // 0.1875 + 0.047 < 0.25: not worse by more than the margin
  CHECK(v[4]["verdict"] == "inconclusive");
  CHECK(v[4]["reason"].get<std::string>().find("at least 2 seeds") != std::string::npos);
  // A difference that is certain but smaller than the margin is not "better".
  json strict = report;
  strict["config"]["claims"] = json::array({claims[0]});
  strict["config"]["claims"][0]["margin"] = 0.3;
  CHECK(evaluate_claims(strict)[0]["verdict"] == "not held");
  strict["config"]["claims"][0]["margin"] = 0.1875;  // the margin lies inside the interval
  CHECK(evaluate_claims(strict)[0]["verdict"] == "inconclusive");
  // With three seeds per model the separately trained comparison is decided at the seed level:
  // per-seed differences [-0.2, -0.1, -0.3] (mean -0.2, sd 0.1, se 0.1/sqrt(3)) add to the document
  // part (se_doc as above), with Satterthwaite degrees of freedom.
  json seeded = report;
  seeded["runs"][0]["results"][0]["seed_nll"] = {2.6, 2.4, 2.5};
  seeded["runs"][2]["results"][0]["seed_nll"] = {2.4, 2.3, 2.2};
  const auto s = evaluate_claims(seeded)[4];
  const double v_doc = std::pow(std::sqrt(10.0 / 9 * 2.5) / 80, 2), v_seed = 0.01 / 3;
  CHECK(s["stderr"].get<double>() == Approx(std::sqrt(v_doc + v_seed)));
  CHECK(s["df"].get<double>() == Approx((v_doc + v_seed) * (v_doc + v_seed) / (v_doc * v_doc / 9 + v_seed * v_seed / 2)));
  CHECK(s["stderr_kind"] == "paired by 10 documents and 3 seeds");
  CHECK(s["verdict"] == "inconclusive");  // -0.1875 ± ~4 * 0.058 straddles -0.01
  // Seeds are paired by identity, not by count: the same three seeds pair, three others do not.
  seeded["runs"][0]["results"][0]["seeds"] = {1, 2, 3};
  seeded["runs"][2]["results"][0]["seeds"] = {1, 2, 3};
  CHECK(evaluate_claims(seeded)[4]["stderr"].get<double>() == Approx(std::sqrt(v_doc + v_seed)));
  seeded["runs"][2]["results"][0]["seeds"] = {4, 5, 6};
  const auto other = evaluate_claims(seeded)[4];
  CHECK(other["verdict"] == "inconclusive");
  CHECK_THAT(other["reason"].get<std::string>(), Catch::Contains("different seeds"));
  // No per-document sums (an older report): no verdict, and the reason says to re-run.
  json old = report;
  for (auto& run : old["runs"])
    for (auto& r : run["results"]) r.erase("per_document");
  const auto fallback = evaluate_claims(old);
  CHECK(fallback[0]["verdict"] == "inconclusive");
  CHECK(fallback[0]["reason"].get<std::string>().find("re-run") != std::string::npos);
}

TEST_CASE("claims as a family: Holm's correction, power at the paper's effect, and no claim that cannot fail") {
  auto repeat = [](std::vector<double> pattern, int times) {
    std::vector<double> out;
    for (int i = 0; i < times; ++i) out.insert(out.end(), pattern.begin(), pattern.end());
    return out;
  };
  json runs = json::array();
  runs.push_back({{"name", "rope"}, {"train_length", 4}, {"trained_model", "m1"}, {"results", {doc_result(4, repeat({8, 12}, 5), 8)}}});
  runs.push_back({{"name", "ntk"}, {"train_length", 4}, {"trained_model", "m1"}, {"results", {doc_result(4, repeat({6, 11}, 5), 8)}}});
  auto claim = [](std::string left, std::string right, double margin) {
    return json{{"claim", left + "<" + right}, {"left", {{"run", left}, {"length", 1}}}, {"op", "<"},
                {"right", {{"run", right}, {"length", 1}}}, {"margin", margin}};
  };
  // d = -0.1875, se = 0.020833, df 9 (the test above). Margin 0.1375: t = 0.05 / se = 2.4,
  // p_held = 1 - F_9(2.4) = 0.0199 < 0.025: held alone; with a second claim Holm doubles it to 0.0399.
  json report = {{"schema", kReportSchema}, {"name", "family"}, {"runs", runs},
                 {"config", {{"claims", json::array({claim("ntk", "rope", 0.1375)})}}}};
  auto v = evaluate_claims(report);
  CHECK(v[0]["p_held"].get<double>() == Approx(1 - t_cdf(2.4, 9)).epsilon(1e-9));
  CHECK(v[0]["verdict"] == "held");
  report["config"]["claims"].push_back(claim("rope", "ntk", 0.01));  // certainly not held: p_held ~ 1
  v = evaluate_claims(report);
  CHECK(v[0]["verdict_uncorrected"] == "held");
  CHECK(v[0]["p_held_holm"].get<double>() == Approx(2 * (1 - t_cdf(2.4, 9))).epsilon(1e-9));
  CHECK(v[0]["verdict"] == "inconclusive");  // corrected over the two claims
  CHECK(v[1]["verdict"] == "not held");
  CHECK(v[0]["correction"] == "Holm over the report's 2 claims");
  // Detectable effect: margin + (t_9(0.975) + t_9(0.8)) se.
  const double se = std::sqrt(10.0 / 9 * 2.5) / 80;
  CHECK(v[0]["detectable"].get<double>() == Approx(0.1375 + (t_quantile(0.975, 9) + t_quantile(0.8, 9)) * se));
  // Power at the paper's effect decides "underpowered": margin 0.1875 (the observed difference) and
  // a paper effect of 0.2 leave 0.0125 nats of room, 0.6 se: power 1 - F_9(2.262 - 0.6) = 0.066.
  report["config"]["claims"] = json::array({claim("ntk", "rope", 0.1875)});
  report["config"]["claims"][0]["effect"] = 0.2;
  v = evaluate_claims(report);
  CHECK(v[0]["power"].get<double>() == Approx(1 - t_cdf(t_quantile(0.975, 9) - 0.0125 / se, 9)).epsilon(1e-9));
  CHECK(v[0]["verdict"] == "underpowered");
  CHECK(v[0]["power_for"] == "the paper's effect");
  report["config"]["claims"][0]["effect"] = 0.5;  // 15 se of room: power ~1, so inconclusive is evidence
  CHECK(evaluate_claims(report)[0]["verdict"] == "inconclusive");
  report["config"]["claims"][0].erase("effect");  // observed effect: power shown, never a verdict
  v = evaluate_claims(report);
  CHECK(v[0]["verdict"] == "inconclusive");
  CHECK(v[0]["power_for"] == "the effect observed");
  // An equivalence claim: the smallest tolerance a true difference of 0 is confirmed within.
  json eq = claim("ntk", "rope", 0);
  eq.erase("margin");
  eq["op"] = "~";
  eq["tolerance"] = 0.05;
  report["config"]["claims"] = json::array({eq});
  v = evaluate_claims(report);
  CHECK(v[0]["detectable"].get<double>() == Approx((t_quantile(0.975, 9) + t_quantile(0.9, 9)) * se));
  // A claim whose two sides are one result cannot fail: a config error.
  json same = claim("rope", "rope", 0.01);
  CHECK_THROWS_WITH(validate_claims(json::array({same}), {"rope"}, {1}, {"nonoverlapping"}, {}),
                    Catch::Contains("this claim cannot fail"));
}

TEST_CASE("document-clustered errors, t quantiles and seed aggregation match hand computations") {
  // Four windows of 2 tokens with sums 2, 4, 6, 8; documents A = windows 1-2, B = windows 3-4.
  // By window: mean 20/8 = 2.5, residuals [-3, -1, 1, 3], ss 20, se = sqrt(4/3 * 20) / 8 = 0.6455.
  // By document: sums [6, 14] over 4 tokens each, residuals [-4, 4], ss 32, se = sqrt(2 * 32) / 8 = 1.
  CHECK(clustered_stderr({2, 4, 6, 8}, {2, 2, 2, 2}) == Approx(std::sqrt(4.0 / 3 * 20) / 8));
  CHECK(clustered_stderr({6, 14}, {4, 4}) == Approx(1.0));
  CHECK(std::isnan(clustered_stderr({6}, {4})));  // one document: no error, never zero
  CHECK(t_quantile_975(1) == Approx(12.706).epsilon(1e-4));
  CHECK(t_quantile_975(10) == Approx(2.228).epsilon(1e-4));
  CHECK(t_quantile_975(60) == Approx(2.0003).epsilon(1e-4));
  CHECK(t_quantile_975(1e12) == Approx(1.96).epsilon(1e-3));
  CHECK(std::isnan(t_quantile_975(0)));
  const auto [se, df] = combine_errors({{0.03, 9}, {0.04, 2}});
  CHECK(se == Approx(0.05));
  CHECK(df == Approx(0.05 * 0.05 * 0.05 * 0.05 / (std::pow(0.03, 4) / 9 + std::pow(0.04, 4) / 2)));
  // Two seeds over two documents of 4 tokens: seed means 1.5 and 2.0 (mean 1.75, se 0.25);
  // seed-averaged sums [5, 9]: residuals [-2, 2], se_doc = sqrt(2 * 8) / 8 = 0.5.
  auto seed_result = [](std::vector<double> sums) {
    json r = doc_result(4, sums, 4);
    r["windows"] = 2;
    r["last_l_nll"] = r["nll"];
    r["buckets"] = json::array({{{"start", 0}, {"end", 4}, {"nll", r["nll"]}, {"tokens", 8}}});
    r["curve"] = json::array({json::array({0, r["nll"]})});
    return json::array({r});
  };
  const auto cell = aggregate_seed_results({seed_result({4, 8}), seed_result({6, 10})})[0];
  CHECK(cell["nll"].get<double>() == Approx(1.75));
  CHECK(cell["stderr_parts"]["documents"].get<double>() == Approx(0.5));
  CHECK(cell["stderr_parts"]["seeds"].get<double>() == Approx(0.25));
  CHECK(cell["nll_stderr"].get<double>() == Approx(std::sqrt(0.25 * 0.25 + 0.5 * 0.5)));
  CHECK(cell["seed_nll"] == json({1.5, 2.0}));
  CHECK(cell["buckets"][0]["nll"].get<double>() == Approx(1.75));
  // One seed: the seed part is unknown, not zero, and the error is the document part alone.
  const auto one = aggregate_seed_results({seed_result({4, 8})})[0];
  CHECK(one["stderr_parts"]["seeds"].is_null());
  CHECK(one["nll_stderr"].get<double>() == Approx(clustered_stderr({4, 8}, {4, 4})));
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
  bad["op"] = "=<";
  CHECK_THROWS_WITH(parse_config(with(bad)), Catch::Contains("\"claims[0].op\" must be one of <, >, <=, ~"));
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
