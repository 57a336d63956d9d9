// Data-parallel training over c10d/gloo: ranks agree exactly, and match one process with the
// same global batch up to float reduction order.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include "harness/run/config_load.h"
#include "harness/train/distributed.h"
#include "harness/report/files.h"
#include "harness/run/experiment.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

namespace {

// A port on 127.0.0.1 that was free a moment ago.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

double max_diff(GPT& a, GPT& b) {
  double worst = 0;
  auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  return worst;
}

}  // namespace

TEST_CASE("2 data-parallel ranks hold identical weights and match one process with the same global batch") {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i % 7) + "\n";
  const auto stream = torch::from_blob(text.data(), {int64_t(text.size())}, torch::kUInt8).clone();
  const auto job = test::quick_job(16, 8, 8);  // global batch 8: 4 windows per rank
  auto single = test::tiny_model("rope");
  const auto single_stats = train(single, stream, job, torch::kCPU);
  // Models are built here, not in the threads: their initialisation draws from the global RNG.
  std::vector<GPT> ranks = {test::tiny_model("rope"), test::tiny_model("rope")};
  std::vector<TrainStats> stats(2);
  const int port = free_port();
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank)
    threads.emplace_back([&, rank] {
      TrainJob rank_job = job;
      rank_job.data_parallel = std::make_shared<DataParallel>("127.0.0.1", port, rank, 2);
      stats[size_t(rank)] = train(ranks[size_t(rank)], stream, rank_job, torch::kCPU);
    });
  for (auto& t : threads) t.join();
  CHECK(max_diff(ranks[0], ranks[1]) == 0.0);  // every rank applied the same averaged gradients
  CHECK(stats[0].final_loss == stats[1].final_loss);
  const double drift = max_diff(ranks[0], single);
  // Per-rank means averaged vs one mean over 8 windows: the same gradient up to float rounding
  // (measured: 1.2e-7 after 8 AdamW steps; tolerance 1e-5).
  INFO("max |w(2 ranks) - w(1 process)| = " << drift << " (tolerance 1e-5); loss " << stats[0].final_loss << " vs "
                                            << single_stats.final_loss);
  CHECK(drift < 1e-5);
  CHECK(stats[0].final_loss == Approx(single_stats.final_loss).epsilon(1e-4));
  CHECK(stats[0].tokens == single_stats.tokens);  // the global batch
}

TEST_CASE("the CLI trains data-parallel from torchrun-style variables, rank 0 writes the report") {
  test::TempDir dir;
  json cfg = test::small_config(test::make_corpus(dir));
  cfg["runs"] = json::array({{{"encoding", "rope"}}, {{"encoding", "rope"}, {"scaling", "yarn"}}});
  const auto config = test::write_config(dir, cfg);
  const auto out = (dir.path / "dp").string();
  const std::string port = std::to_string(free_port());
  auto env = [&](int rank) {
    return std::vector<std::pair<std::string, std::string>>{
        {"RANK", std::to_string(rank)}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}};
  };
  const pid_t rank0 = test::spawn_cli({"run", config, "--out", out, "--threads", "1"}, dir, 0, env(0), "rank0");
  const pid_t rank1 = test::spawn_cli({"run", config, "--out", out, "--threads", "1"}, dir, 0, env(1), "rank1");
  const auto r0 = test::wait_cli(rank0, dir, "rank0"), r1 = test::wait_cli(rank1, dir, "rank1");
  INFO(r0.err << r1.err);
  CHECK(r0.exit_code == 0);
  CHECK(r1.exit_code == 0);
  CHECK_THAT(test::slurp(dir.path / "rank1.out"), Catch::Contains("[rank 1]"));
  const json report = read_report(out + "/report.json");
  CHECK(report["status"] == "complete");
  CHECK(report["data_parallel"]["world_size"] == 2);
  // The same numbers as one process, up to float reduction order.
  const json alone = run_experiment(parse_config(cfg), {(dir.path / "alone").string()});
  for (size_t r = 0; r < 2; ++r)
    for (size_t i = 0; i < alone["runs"][r]["results"].size(); ++i)
      CHECK(report["runs"][r]["results"][i]["nll"].get<double>() ==
            Approx(alone["runs"][r]["results"][i]["nll"].get<double>()).margin(1e-3));
}

TEST_CASE("inconsistent data-parallel variables are one clear error") {
  setenv("WORLD_SIZE", "2", 1);
  unsetenv("RANK");
  CHECK_THROWS_WITH(data_parallel_from_env(), Catch::Contains("RANK"));
  setenv("RANK", "0", 1);
  unsetenv("MASTER_ADDR");
  CHECK_THROWS_WITH(data_parallel_from_env(), Catch::Contains("MASTER_ADDR and MASTER_PORT"));
  setenv("WORLD_SIZE", "1", 1);
  CHECK(data_parallel_from_env() == nullptr);  // a world of one is a plain run
  unsetenv("WORLD_SIZE");
  unsetenv("RANK");
}
