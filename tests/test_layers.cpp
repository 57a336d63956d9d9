// The layering the README draws, enforced: every #include "..." of a file under harness/ or
// encodings/ must point to its own layer or one below it, and no file there grows past about
// 400 lines. An upward include fails this test, so it fails CI.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;

// Layer of a source path (relative to the repository), or "" when it is not in one.
std::string layer_of(const std::string& path) {
  static const std::vector<std::pair<std::string, std::string>> prefixes = {
      {"harness/core/", "core"},   {"harness/config/", "config"}, {"harness/data/", "data"},
      {"encodings/", "encodings"}, {"harness/model/", "model"},   {"harness/train/", "train"},
      {"harness/eval/", "eval"},   {"harness/report/", "report"}, {"harness/run/", "run"},
      {"harness/cli/", "cli"},     {"harness/main.cpp", "main"},  {"harness/pch.h", "core"}};
  for (const auto& [prefix, layer] : prefixes)
    if (path.rfind(prefix, 0) == 0) return layer;
  return "";
}

// What each layer may include: itself and the layers below it (core <- config <- data, encodings
// <- model <- train, eval <- report <- run <- cli). data and model never see each other's code;
// report reads report JSON only, so it needs no model, data or evaluator code.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> table = {
      {"core", {"core"}},
      {"config", {"core", "config"}},
      {"data", {"core", "config", "data"}},
      {"encodings", {"core", "config", "encodings"}},
      {"model", {"core", "config", "encodings", "model"}},
      {"train", {"core", "config", "data", "encodings", "model", "train"}},
      {"eval", {"core", "config", "data", "encodings", "model", "eval"}},
      {"report", {"core", "config", "report"}},
      {"run", {"core", "config", "data", "encodings", "model", "train", "eval", "report", "run"}},
      {"cli", {"core", "config", "data", "encodings", "model", "train", "eval", "report", "run", "cli"}},
      {"main", {"cli"}},
  };
  return table;
}

std::vector<std::string> sources() {
  std::vector<std::string> out;
  const fs::path root(LENGTHBENCH_SOURCE_DIR);
  for (const char* dir : {"harness", "encodings"})
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      const auto ext = e.path().extension();
      if (e.is_regular_file() && (ext == ".h" || ext == ".cpp")) out.push_back(fs::relative(e.path(), root).string());
    }
  return out;
}

}  // namespace

TEST_CASE("includes point down the layers: core <- config <- data/model <- train/eval <- report <- run <- cli") {
  const std::regex include(R"re(^\s*#\s*include\s+"([^"]+)")re");
  int files = 0, includes = 0;
  for (const auto& path : sources()) {
    const std::string from = layer_of(path);
    INFO(path);
    REQUIRE(!from.empty());  // every file sits in a layer
    ++files;
    std::ifstream in(fs::path(LENGTHBENCH_SOURCE_DIR) / path);
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      const std::string target = m[1], to = layer_of(target);
      if (to.empty()) continue;  // a system or third-party header
      ++includes;
      INFO(path << " includes " << target << " (" << from << " -> " << to << ")");
      CHECK(allowed().at(from).count(to) == 1);
    }
  }
  CHECK(files > 50);
  CHECK(includes > 100);
}

TEST_CASE("the layer check fails an upward include (a check that can fail)") {
  CHECK(allowed().at("data").count(layer_of("harness/eval/passkey.h")) == 0);
  CHECK(allowed().at("config").count(layer_of("encodings/registry.h")) == 0);
  CHECK(allowed().at("model").count(layer_of("harness/data/sampler.h")) == 0);
  CHECK(allowed().at("report").count(layer_of("harness/model/model.h")) == 0);
  CHECK(allowed().at("run").count(layer_of("harness/cli/commands.h")) == 0);
}

TEST_CASE("no file under harness/ or encodings/ is longer than about 400 lines") {
  for (const auto& path : sources()) {
    std::ifstream in(fs::path(LENGTHBENCH_SOURCE_DIR) / path);
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    INFO(path << ": " << lines << " lines");
    CHECK(lines <= 420);
  }
}
