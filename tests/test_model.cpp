#include "harness/data.h"
#include "harness/trainer.h"
#include "tests/helpers.h"

using namespace lb;
using test::to_vector;

TEST_CASE("causal masking: changing a future token never changes past logits (every encoding)") {
  for (const auto& name : encoding_names()) {
    INFO(name);
    auto model = test::tiny_model(name);
    model->eval();
    torch::NoGradGuard g;
    auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
    auto changed = tokens.clone();
    changed.index_put_({torch::indexing::Slice(), 15}, (tokens.index({torch::indexing::Slice(), 15}) + 1) % 256);
    auto a = model->forward(tokens), b = model->forward(changed);
    CHECK(torch::equal(a.slice(1, 0, 15), b.slice(1, 0, 15)));
    CHECK(!torch::allclose(a.slice(1, 15), b.slice(1, 15)));  // the change is visible from 15 on
  }
}

TEST_CASE("a tiny model's loss goes down") {
  // A repetitive text: a model that learns anything at all beats its initial ~ln(256) loss.
  std::string text;
  for (int i = 0; i < 400; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i % 10) + "\n";
  auto stream = torch::from_blob(text.data(), {int64_t(text.size())}, torch::kUInt8).clone();
  auto model = test::tiny_model("rope", 32);
  TrainJob job;
  job.label = "test";
  job.train.length = 32;
  job.train.steps = 60;
  job.train.batch_size = 8;
  job.train.warmup_steps = 5;
  job.train.lr = 3e-3;
  job.train.log_every = 1000;
  job.bf16 = false;
  auto stats = train(model, stream, job, torch::kCPU);
  CHECK(stats.first_loss == Approx(std::log(256.0)).margin(0.3));
  CHECK(stats.final_loss < stats.first_loss - 2.0);
  CHECK(stats.tokens == 60 * 8 * 32);
}

TEST_CASE("bf16 autocast loss stays within 0.02 nats of fp32 on the same weights") {
  auto model = test::tiny_model("rope", 32, 64, 64, 4, 2);
  model->eval();
  torch::NoGradGuard g;
  torch::manual_seed(1);
  auto tokens = torch::randint(256, {4, 65}, torch::kInt64);
  auto inputs = tokens.narrow(1, 0, 64), targets = tokens.narrow(1, 1, 64);
  const double fp32 = token_nll(model->forward(inputs), targets).mean().item<double>();
  double bf16;
  {
    AutocastScope autocast(true, torch::kCPU);
    bf16 = token_nll(model->forward(inputs), targets).mean().item<double>();
  }
  CHECK(std::abs(bf16 - fp32) < 0.02);
  CHECK(bf16 != fp32);  // autocast really changed the arithmetic
}

TEST_CASE("the learning-rate schedule warms up linearly and decays by cosine to min_lr") {
  TrainJob job;
  job.train.lr = 1.0;
  job.train.min_lr_ratio = 0.1;
  job.train.warmup_steps = 10;
  job.train.steps = 110;
  CHECK(learning_rate(job, 0) == Approx(0.1));
  CHECK(learning_rate(job, 9) == Approx(1.0));
  CHECK(learning_rate(job, 60) == Approx(0.55));
  CHECK(learning_rate(job, 110) == Approx(0.1));
}

TEST_CASE("training resumes from a checkpoint to the same weights as an uninterrupted run") {
  test::TempDir dir;
  std::string text(20000, 'a');
  for (size_t i = 0; i < text.size(); ++i) text[i] = char('a' + (i * 7 + i / 13) % 26);
  auto stream = torch::from_blob(text.data(), {int64_t(text.size())}, torch::kUInt8).clone();
  TrainJob job;
  job.train.length = 16;
  job.train.steps = 6;
  job.train.batch_size = 4;
  job.train.warmup_steps = 2;
  job.train.log_every = 1000;
  job.train.checkpoint_every = 3;
  job.bf16 = false;

  auto straight = test::tiny_model("alibi");
  train(straight, stream, job, torch::kCPU);

  auto first = test::tiny_model("alibi");
  job.checkpoint = (dir.path / "ckpt").string();
  TrainJob interrupted = job;
  interrupted.stop_after = 4;  // as if killed after step 4 (checkpoint_every 3 would lose step 4)
  train(first, stream, interrupted, torch::kCPU);
  REQUIRE(nlohmann::json::parse(std::ifstream(job.checkpoint + ".json"))["step"] == 4);

  auto resumed = test::tiny_model("alibi");
  train(resumed, stream, job, torch::kCPU);
  auto a = straight->parameters(), b = resumed->parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
}
