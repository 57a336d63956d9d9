// The command line: its usage comes from the command table, so every command answers --help,
// lists every flag its parser takes, and rejects what the table does not name.
#include "harness/cli/commands.h"
#include "tests/helpers.h"

using namespace lb;

TEST_CASE("every command answers --help with exit 0, listing each flag the parser accepts") {
  test::TempDir dir;
  for (const auto& command : commands()) {
    INFO(command.name);
    const auto child = test::run_cli({command.name, "--help"}, dir);
    CHECK(child.exit_code == 0);
    const std::string out = test::slurp(dir.path / "child.out");
    CHECK_THAT(out, Catch::StartsWith("usage: lengthbench " + command.name));
    for (const auto& flag : command.flags) CHECK_THAT(out, Catch::Contains("--" + flag.name));
  }
  const auto all = test::run_cli({"--help"}, dir);
  CHECK(all.exit_code == 0);
  for (const auto& command : commands()) CHECK_THAT(test::slurp(dir.path / "child.out"), Catch::Contains(command.name));
}

TEST_CASE("flags are parsed against the table: values where the usage shows one, unknown flags refused") {
  const Command& bench = *find_command("bench");
  std::vector<std::string> words = {"lengthbench", "bench", "--gemm-peak"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  CHECK_THROWS_WITH(Args(bench, int(argv.size()), argv.data(), 2), Catch::Contains("--gemm-peak needs a value (N)"));
  std::vector<std::string> ok_words = {"lengthbench", "bench", "--gemm-peak=512", "--layers", "2"};
  argv.clear();
  for (auto& w : ok_words) argv.push_back(w.data());
  const Args ok(bench, int(argv.size()), argv.data(), 2);
  CHECK(ok.integer("gemm-peak", 0) == 512);
  CHECK(ok.integer("layers", 4) == 2);
  CHECK(ok.integer("heads", 4) == 4);
  std::vector<std::string> bad_words = {"lengthbench", "bench", "--layer", "2"};
  argv.clear();
  for (auto& w : bad_words) argv.push_back(w.data());
  CHECK_THROWS_WITH(Args(bench, int(argv.size()), argv.data(), 2), Catch::Contains("bench has no option --layer"));
  // Every usage line shows exactly the table's flags.
  for (const auto& command : commands()) {
    const std::string usage = command_usage(command);
    for (const auto& flag : command.flags)
      CHECK_THAT(usage, Catch::Contains("[--" + flag.name + (flag.value.empty() ? "" : " " + flag.value) + "]"));
  }
}

TEST_CASE("an unknown command lists the commands and exits 2") {
  test::TempDir dir;
  const auto child = test::run_cli({"trian"}, dir);
  CHECK(child.exit_code == 2);
  CHECK_THAT(child.err, Catch::Contains("unknown command \"trian\"") && Catch::Contains("run, merge"));
}
