// The reference pages under docs/reference/ are generated from the code; they must say what the
// binary accepts. After changing a config field or a command: `scripts/update-reference`.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "harness/cli/commands.h"
#include "harness/config/reference.h"

namespace {

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(LENGTHBENCH_SOURCE_DIR) + "/docs/reference/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("docs/reference/config.md and cli.md match the config's field lists and the command table") {
  INFO("regenerate with scripts/update-reference and commit the result");
  CHECK(read_doc("config.md") == lb::config_reference_markdown());
  CHECK(read_doc("cli.md") == lb::cli_reference_markdown());
  // The generator sees every section and the recipe keys.
  CHECK_THAT(lb::config_reference_markdown(), Catch::Contains("`model.tie_embeddings` | bool | `true`") &&
                                                 Catch::Contains("`precision` | string | `\"auto\"`"));
}
