// A cluster unit for every corpus: a single file is cut into documents at lines matching
// data.document_separator, or, with none, clustered into contiguous blocks (batch means), so its
// errors are never silently n/a (harness/eval/windows.h: cluster_unit).
#include <catch2/catch.hpp>

#include "harness/eval/windows.h"
#include "harness/run/config_load.h"
#include "harness/run/experiment.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

TEST_CASE("cluster units: documents as given, blocks for a single document or when asked") {
  const auto docs = cluster_unit(0, "", {0, 100, 250}, 400, 32);
  CHECK(docs.name == "document");
  CHECK(docs.starts == std::vector<int64_t>{0, 100, 250});
  const auto single = cluster_unit(0, "", {0}, 1000, 32);  // 8 x 32 = 256-token blocks
  CHECK(single.name == "block");
  CHECK(single.starts == std::vector<int64_t>{0, 256, 512, 768});
  CHECK_THAT(single.rule, Catch::Contains("256 tokens") && Catch::Contains("batch means"));
  CHECK(cluster_unit(300, "", {0, 100, 250}, 700, 32).starts == std::vector<int64_t>{0, 300, 600});  // explicit
}

namespace {

// One text file of `sections` WikiText-style sections (" = Title = " headings), random words.
std::string single_file(const test::TempDir& dir, int sections) {
  const char* words[] = {"the ", "river ", "flows ", "past ", "a ", "town ", "in ", "the ", "north ", "\n"};
  uint64_t x = 7;
  std::string text;
  for (int s = 0; s < sections; ++s) {
    text += " = Section " + std::to_string(s) + " = \n";
    for (int w = 0; w < 300; ++w) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      text += words[(x >> 33) % 10];
    }
    text += "\n";
  }
  return dir.file("wiki.train.tokens", text);
}

}  // namespace

TEST_CASE("a single-file corpus gets honest errors: by separator-cut documents, or by blocks") {
  test::TempDir dir;
  json cfg = test::small_config(single_file(dir, 60));
  cfg["data"]["held_out_fraction"] = 0.3;
  cfg["runs"] = json::array({{{"encoding", "rope"}}});
  cfg["eval"]["protocols"] = json::array({"nonoverlapping"});
  // No separator: one held-out document, so contiguous blocks of 8 x 32 tokens.
  json report = run_experiment(parse_config(cfg), {(dir.path / "blocks").string()});
  CHECK(report["evaluation"]["held_out_documents"] == 1);
  CHECK_THAT(report["evaluation"]["cluster_unit"].get<std::string>(), Catch::Contains("contiguous blocks of 256 tokens"));
  const json& cell = report["runs"][0]["results"][0];
  CHECK(cell["per_document"]["unit"] == "block");
  CHECK(cell["nll_stderr"].is_number());
  CHECK(cell["per_document"]["ids"].size() >= 2);
  // WikiText's headings as the separator: every section of the held-out part is a document.
  cfg["data"]["document_separator"] = "^ = [^=].* = $";
  report = run_experiment(parse_config(cfg), {(dir.path / "sections").string()});
  CHECK(report["evaluation"]["held_out_documents"].get<int64_t>() >= 10);
  CHECK(report["runs"][0]["results"][0]["per_document"]["unit"] == "document");
  CHECK(report["runs"][0]["results"][0]["nll_stderr"].is_number());
  // A separator that is not a regex is one config error naming the key.
  cfg["data"]["document_separator"] = "([";
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("data.document_separator"));
}
