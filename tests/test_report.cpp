#include <fstream>
#include <sstream>

#include "harness/report.h"
#include "harness/runner.h"
#include "harness/tables.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

static json sample_report() {
  auto result = [](int T, const char* protocol, double nll, double se) {
    return json{{"eval_length", T}, {"protocol", protocol}, {"nll", nll}, {"ppl", std::exp(nll)},
                {"nll_stderr", se}, {"tokens", 1536}, {"last_l_ppl", std::exp(nll + 0.1)},
                {"buckets", json::array()}, {"curve", json::array()}};
  };
  json runs = json::array();
  runs.push_back({{"name", "rope"}, {"train_length", 128},
                  {"results", {result(128, "nonoverlapping", 1.0, 0.01), result(256, "nonoverlapping", 2.5, 0.05)}}});
  runs.push_back({{"name", "alibi_x"}, {"train_length", 128},
                  {"results", {result(128, "nonoverlapping", 1.1, 0.02), result(256, "nonoverlapping", 1.05, 0.02),
                               result(256, "sliding", 1.0, 0.02)}}});
  return {{"schema", kReportSchema}, {"name", "sample"}, {"runs", runs}};
}

// LENGTHBENCH_UPDATE_GOLDEN=1 rewrites the golden file (then review the diff before committing).
static std::string golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(LENGTHBENCH_SOURCE_DIR) + "/tests/golden/" + name;
  if (std::getenv("LENGTHBENCH_UPDATE_GOLDEN")) std::ofstream(path) << actual;
  std::ifstream in(path);
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

TEST_CASE("tables match their golden files (markdown, csv, latex)") {
  TableOptions t;
  auto check = [&](const std::string& file) {
    const auto actual = render_table({sample_report()}, t);
    CHECK(actual == golden(file, actual));
  };
  check("table.md");
  t.format = "csv";
  check("table.csv");
  t.format = "latex";
  check("table.tex");
  t.format = "markdown";
  t.metric = "last_l_ppl";
  check("table_last_l.md");
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
