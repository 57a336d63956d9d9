#include "harness/data/corpus.h"
#include "harness/data/sampler.h"
#include "harness/data/sources.h"
#include "harness/model/fused.h"
#include "harness/model/precision.h"
#include "harness/train/adamw.h"
#include "harness/train/fused_trainer.h"
#include "harness/train/loop.h"
#include "harness/train/trainer.h"
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

TEST_CASE("exact dynamic scaling equals a per-position brute force: each query on its prefix at its chunk's s") {
  auto model = test::tiny_model("rope", 8, 40);  // L = 8
  test::scramble_weights(model);
  model->eval();
  torch::NoGradGuard g;
  auto tokens = torch::randint(256, {2, 30}, torch::kInt64);
  auto with_scaling = [&](Scaling s) { model->encoding().set_scaling(validate_scaling(std::move(s))); };
  Scaling yarn;
  yarn.method = "yarn";  // factor "auto"
  with_scaling(yarn);
  auto window_level = model->forward(tokens);  // one s = 30/8 for every query
  yarn.exact_chunk = 4;
  with_scaling(yarn);
  auto exact = inference_logits(model, tokens);
  REQUIRE(exact.sizes() == window_level.sizes());
  for (int64_t i = 0; i < 30; ++i) {
    // Query i's chunk ends at min(30, 4 * ceil((i + 1) / 4)); the reference runs the tokens up to
    // i alone with that chunk's factor written out.
    const int64_t end = std::min<int64_t>(30, (i / 4 + 1) * 4);
    Scaling fixed;
    fixed.method = "yarn";
    fixed.factor = std::max(1.0, end / 8.0);
    with_scaling(fixed);
    auto reference = model->forward(tokens.narrow(1, 0, i + 1)).select(1, i);
    INFO("query " << i);
    CHECK(torch::allclose(exact.select(1, i), reference, 1e-4, 1e-4));
  }
  CHECK(!torch::allclose(exact.slice(1, 0, 8), window_level.slice(1, 0, 8), 1e-3, 1e-3));  // early queries see s = 1
  // dynamic-ntk with 1-token chunks is the textbook cache-free method: every query at s = (i+1)/L.
  Scaling dynamic;
  dynamic.method = "dynamic-ntk";
  dynamic.exact_chunk = 1;
  with_scaling(dynamic);
  auto per_token = inference_logits(model, tokens);
  dynamic.exact_chunk.reset();
  with_scaling(dynamic);
  for (int64_t i : {0, 7, 8, 15, 29})
    CHECK(torch::allclose(per_token.select(1, i), model->forward(tokens.narrow(1, 0, i + 1)).select(1, i), 1e-4, 1e-4));
}

TEST_CASE("a tiny model's loss goes down") {
  // A repetitive text: a model that learns anything at all beats its initial ~ln(256) loss.
  std::string text;
  for (int i = 0; i < 400; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i % 10) + "\n";
  auto stream = torch::from_blob(text.data(), {int64_t(text.size())}, torch::kUInt8).clone();
  auto model = test::tiny_model("rope", 32);
  auto stats = train(model, stream, test::quick_job(32, 60, 8), torch::kCPU);
  CHECK(stats.first_loss == Approx(std::log(256.0)).margin(0.3));
  CHECK(stats.final_loss < stats.first_loss - 2.0);
  CHECK(stats.tokens == 60 * 8 * 32);
}

TEST_CASE("fused seeds: each seed's weights after training match training that seed alone") {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "a fused model trains " + std::to_string(i % 13) + " seeds at once\n";
  auto stream = torch::from_blob(text.data(), {int64_t(text.size())}, torch::kUInt8).clone();
  bool tie = true;
  auto make = [&](const std::string& encoding, uint64_t seed) {
    Config c = test::tiny_config(encoding, 16, 32, 4, 2);
    c.model.tie_embeddings = tie;
    return build_model(c, c.runs[0], 256, 64, seed);  // as the runner builds each seed's model
  };
  for (const std::string variant : {"rope", "alibi", "rope untied"}) {
    INFO(variant);
    const std::string encoding = variant.substr(0, variant.find(' '));
    tie = variant.find("untied") == std::string::npos;
    std::vector<GPT> solo, fused, initial;
    std::vector<TrainJob> jobs;
    for (uint64_t seed : {1, 2, 3}) {
      TrainJob job = test::quick_job(16, 8, 4);
      job.seed = seed;
      job.train.grad_clip = 0.05;  // small enough that clipping acts, per seed
      jobs.push_back(job);
      solo.push_back(make(encoding, seed));
      fused.push_back(make(encoding, seed));
      initial.push_back(make(encoding, seed));
    }
    std::vector<TrainStats> solo_stats;
    for (size_t s = 0; s < 3; ++s) solo_stats.push_back(train(solo[s], stream, jobs[s], torch::kCPU));
    const auto fused_stats = train_fused(fused, stream_batches(stream), jobs, torch::kCPU);
    for (size_t s = 0; s < 3; ++s) {
      INFO("seed " << jobs[s].seed);
      CHECK(fused_stats[s].final_loss == Approx(solo_stats[s].final_loss).epsilon(1e-4));
      double moved = 0, differs = 0;
      auto a = solo[s]->named_parameters(), b = fused[s]->named_parameters(), init = initial[s]->named_parameters();
      for (const auto& item : a) {
        moved = std::max(moved, (item.value() - init[item.key()]).abs().max().item<double>());
        differs = std::max(differs, (item.value() - b[item.key()]).abs().max().item<double>());
      }
      // Float rounding only: bmm sums in another order than mm. Training moved the weights by
      // about a hundred times as much.
      CHECK(moved > 1e-2);
      CHECK(differs < 1e-4);
    }
  }
  tie = true;
  std::string why;
  CHECK(!can_fuse({make("t5", 1), make("t5", 2)}, &why));
  CHECK_THAT(why, Catch::Contains("learned position parameters"));
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

TEST_CASE("precision auto is the faster of the two on a CPU with native bf16, decided by measured rates") {
  const Hardware xeon{"Intel Xeon (avx512_bf16, no AMX)", {"avx2", "avx512f", "avx512_bf16"}, 0};
  const Hardware avx2_only{"AMD EPYC 7B13", {"avx2"}, 0};
  CHECK(precision_needs_rates(Precision::kAuto, "cpu", xeon));
  CHECK_FALSE(precision_needs_rates(Precision::kFp32, "cpu", xeon));   // an explicit precision is not timed
  CHECK_FALSE(precision_needs_rates(Precision::kAuto, "cpu", avx2_only));  // emulated bf16 is never a candidate
  CHECK_FALSE(precision_needs_rates(Precision::kAuto, "cuda", Hardware{"x", {}, 8}));
  // The Xeon: bf16 13.7k, fp32 21.4k tokens/s -> fp32, and the report says why.
  const auto slow_bf16 = choose_precision(Precision::kAuto, "cpu", xeon, PrecisionRates{13.7e3, 21.4e3, "injected"});
  CHECK(slow_bf16.effective == Precision::kFp32);
  CHECK_THAT(slow_bf16.reason, Catch::Contains("13.7k tokens/s in bf16 against 21.4k in fp32"));
  const auto j = slow_bf16.to_json(xeon);
  CHECK(j["measured"]["bf16_tokens_per_second"] == 13.7e3);
  CHECK(j["measured"]["fp32_tokens_per_second"] == 21.4e3);
  // Zen 5 / AMX: bf16 ahead -> bf16.
  CHECK(choose_precision(Precision::kAuto, "cpu", xeon, PrecisionRates{54e3, 32e3, "injected"}).effective ==
        Precision::kBf16);
  // A tie is no reason to round activations: fp32.
  CHECK(choose_precision(Precision::kAuto, "cpu", xeon, PrecisionRates{30e3, 30e3, "injected"}).effective ==
        Precision::kFp32);
  // Rates never override an explicit choice, nor make emulated bf16 a candidate.
  CHECK(choose_precision(Precision::kBf16, "cpu", xeon, PrecisionRates{1e3, 30e3, "injected"}).effective ==
        Precision::kBf16);
  CHECK(choose_precision(Precision::kAuto, "cpu", avx2_only, PrecisionRates{99e3, 1e3, "injected"}).effective ==
        Precision::kFp32);
}

TEST_CASE("a checkpoint trained from another identity is set aside, never resumed or reused") {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "checkpoint identities " + std::to_string(i % 7) + "\n";
  auto stream = torch::from_blob(text.data(), {int64_t(text.size())}, torch::kUInt8).clone();
  TrainJob job = test::quick_job(16, 6, 4);
  job.train.checkpoint_every = 3;
  job.checkpoint = (dir.path / "ckpt").string();
  job.identity = {{"model", "a"}};
  TrainJob partial = job;
  partial.stop_after = 3;
  auto first = test::tiny_model("alibi");
  train(first, stream, partial, torch::kCPU);
  CHECK(checkpoint_step(job.checkpoint, job.identity) == 3);
  // The same name, another identity: step 0, and the old files kept aside as *.stale.
  TrainJob other = job;
  other.identity = {{"model", "b"}};
  CHECK(checkpoint_step(other.checkpoint, other.identity) == 0);
  CHECK(std::filesystem::exists(job.checkpoint + ".json.stale"));
  auto second = test::tiny_model("alibi");
  const auto stats = train(second, stream, other, torch::kCPU);
  CHECK(stats.steps == 6);
  CHECK(stats.first_loss > 0);  // trained from step 0: the first step's loss is there
  // Its own complete checkpoint is found again under its own identity.
  auto third = test::tiny_model("alibi");
  TrainStats found;
  CHECK(load_complete_checkpoint(third, other, &found));
  CHECK(found.steps == 6);
  CHECK(!load_complete_checkpoint(third, job, &found));
}

TEST_CASE("precision auto picks bf16 only where the hardware computes it natively (injected flags)") {
  const Hardware zen5{"AMD EPYC 9B45", {"avx2", "avx512f", "avx512_bf16"}, 0};
  const Hardware avx2_only{"AMD EPYC 7B13", {"avx2"}, 0};
  const Hardware sapphire{"Intel Xeon", {"avx2", "avx512f", "amx_bf16", "avx512_bf16"}, 0};
  const Hardware amx_only{"Intel Xeon", {"avx2", "avx512f", "amx_bf16"}, 0};
  CHECK(choose_precision(Precision::kAuto, "cpu", zen5).effective == Precision::kBf16);
  CHECK(choose_precision(Precision::kAuto, "cpu", sapphire).effective == Precision::kBf16);
  CHECK(choose_precision(Precision::kAuto, "cpu", amx_only).effective == Precision::kBf16);
  const auto fallback = choose_precision(Precision::kAuto, "cpu", avx2_only);
  CHECK(fallback.effective == Precision::kFp32);
  CHECK_THAT(fallback.reason, Catch::Contains("neither avx512_bf16 nor amx_bf16"));
  // An explicit bf16 is honoured, and flagged where it is emulated.
  const auto forced = choose_precision(Precision::kBf16, "cpu", avx2_only);
  CHECK(forced.effective == Precision::kBf16);
  CHECK(forced.emulated);
  CHECK_THAT(forced.reason, Catch::Contains("emulated") && Catch::Contains("slower"));
  CHECK(!choose_precision(Precision::kBf16, "cpu", zen5).emulated);
  CHECK(choose_precision(Precision::kFp32, "cpu", zen5).effective == Precision::kFp32);
  // CUDA: compute capability 8.0 (Ampere) and later.
  CHECK(choose_precision(Precision::kAuto, "cuda", Hardware{"x", {}, 8}).effective == Precision::kBf16);
  CHECK(choose_precision(Precision::kAuto, "cuda", Hardware{"x", {}, 7}).effective == Precision::kFp32);
  CHECK(choose_precision(Precision::kAuto, "cuda", Hardware{"x", {}, 0}).effective == Precision::kFp32);
  const auto j = fallback.to_json(avx2_only);
  CHECK(j["requested"] == "auto");
  CHECK(j["effective"] == "fp32");
  CHECK(j["cpu_flags"] == nlohmann::json({"avx2"}));
}

TEST_CASE("CPUID detection agrees with the kernel's /proc/cpuinfo flags") {
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      flags = line + " ";
      break;
    }
  if (flags.empty()) return;  // not Linux/x86: nothing to compare against
  const auto hw = detect_hardware("cpu");
  for (const std::string flag : {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}) {
    INFO(flag);
    const bool kernel = flags.find(" " + flag + " ") != std::string::npos;
    const bool cpuid = std::find(hw.cpu_flags.begin(), hw.cpu_flags.end(), flag) != hw.cpu_flags.end();
    CHECK(kernel == cpuid);
  }
}

TEST_CASE("the fused AdamW step equals libtorch's AdamW within float rounding, and keeps its state format") {
  torch::manual_seed(21);
  auto make = [] {
    std::vector<torch::Tensor> params = {torch::randn({37, 5}).requires_grad_(), torch::randn({1000}).requires_grad_()};
    return params;
  };
  auto ours = make(), theirs = make(), initial = make();
  for (size_t i = 0; i < ours.size(); ++i) {
    theirs[i].detach().copy_(ours[i].detach());
    initial[i] = ours[i].detach().clone();
  }
  const auto options = torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).weight_decay(0.1);
  FusedAdamW fused(ours, options);
  torch::optim::AdamW reference(theirs, options);
  for (int step = 0; step < 20; ++step) {
    for (size_t i = 0; i < ours.size(); ++i) {
      const auto g = torch::randn(ours[i].sizes());
      ours[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    fused.step();
    reference.step();
  }
  double gap = 0, moved = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    gap = std::max(gap, (ours[i] - theirs[i]).abs().max().item<double>());
    moved = std::max(moved, (ours[i] - initial[i]).abs().max().item<double>());
  }
  INFO("largest parameter difference after 20 steps " << gap << ", largest move " << moved);
  CHECK(moved > 0.05);  // the parameters moved: agreement is not trivial
  CHECK(gap < 1e-5);    // fp32 rounding of values of order 1 over 20 steps
  // The state is libtorch's: a reference optimizer loads what the fused one saved and continues alike.
  std::stringstream saved;
  torch::save(fused, saved);
  torch::optim::AdamW restored(ours, options);
  torch::load(restored, saved);
  const auto key = c10::guts::to_string(ours[0].unsafeGetTensorImpl());
  const auto& s = static_cast<torch::optim::AdamWParamState&>(*restored.state().at(key));
  CHECK(s.step() == 20);
  CHECK(torch::allclose(s.exp_avg(), static_cast<torch::optim::AdamWParamState&>(*reference.state().at(
                                         c10::guts::to_string(theirs[0].unsafeGetTensorImpl()))).exp_avg(), 1e-6, 1e-7));
}

TEST_CASE("evaluation in query blocks equals whole-score attention for every encoding and scaling") {
  // A budget of a few rows forces blocks of 3 queries on T = 24 (7 blocks, the last one short).
  const int64_t B = 2, T = 24, heads = 4;
  auto logits_of = [&](GPT& model, const torch::Tensor& tokens, int64_t budget) {
    const ScoreBudgetScope scope(budget);
    torch::InferenceMode guard;
    model->eval();
    return inference_logits(model, tokens);
  };
  const int64_t blocks_of_3 = 4 * B * heads * T * 3;
  {
    const ScoreBudgetScope scope(blocks_of_3);
    CHECK(query_block_rows(B, heads, T, true) == 3);
    CHECK(query_block_rows(B, heads, T, false) == 0);  // training always scores whole
  }
  auto compare = [&](GPT& model, const std::string& what) {
    INFO(what);
    test::scramble_weights(model);
    auto tokens = torch::randint(256, {B, T}, torch::kInt64);
    const auto whole = logits_of(model, tokens, int64_t(1) << 40);
    const auto blocks = logits_of(model, tokens, blocks_of_3);
    const double gap = (whole - blocks).abs().max().item<double>();
    INFO("max |diff| " << gap << ", logits up to " << whole.abs().max().item<double>());
    CHECK(gap < 1e-4);
  };
  for (const auto& name : encoding_names()) {
    auto model = test::tiny_model(name, 8, 64, 32, heads);
    compare(model, "encoding " + name);
  }
  for (const std::string method : {"pi", "ntk", "dynamic-ntk", "yarn", "llama3", "rerope", "leaky-rerope"}) {
    auto model = test::tiny_model("rope", 8, 64, 32, heads);
    Scaling s;
    s.method = method;
    if (method != "dynamic-ntk" && method != "rerope") s.factor = 3.0;
    model->encoding().set_scaling(validate_scaling(s));
    compare(model, "rope + " + method);
  }
  auto exact = test::tiny_model("rope", 8, 64, 32, heads);
  Scaling dynamic;
  dynamic.method = "dynamic-ntk";
  dynamic.exact_chunk = 4;
  exact->encoding().set_scaling(validate_scaling(dynamic));
  compare(exact, "rope + dynamic-ntk, exact_chunk 4");
}
