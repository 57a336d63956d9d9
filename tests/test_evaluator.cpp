#include "harness/eval/evaluator.h"
#include "harness/data/corpus.h"
#include "harness/data/sampler.h"
#include "harness/data/sources.h"
#include "harness/eval/passkey.h"
#include "harness/core/statistics.h"
#include "harness/train/trainer.h"
#include "tests/helpers.h"

using namespace lb;
using test::to_vector;

// How often each of the first `tokens` stream positions is scored, and the context it had.
static std::pair<std::vector<int>, int64_t> coverage(const WindowPlan& plan, int64_t tokens, int64_t T) {
  std::vector<int> scored(tokens, 0);
  int64_t min_context = T;
  for (size_t w = 0; w < plan.starts.size(); ++w) {
    const int64_t start = plan.starts[w], from = plan.score_from[w];
    for (int64_t p = from; p < T; ++p) ++scored[start + p];
    if (w > 0) min_context = std::min(min_context, from);
  }
  return {scored, min_context};
}

TEST_CASE("every held-out token is scored exactly once, sliding windows keep >= T-S context") {
  for (auto [tokens, T, S] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {96, 32, 32}, {96, 32, 8}, {100, 32, 12}, {64, 64, 16}, {90, 48, 40}}) {
    INFO(tokens << " " << T << " " << S);
    auto plan = plan_windows(Protocol::kSliding, tokens, T, S);
    auto [scored, context] = coverage(plan, tokens, T);
    CHECK(std::all_of(scored.begin(), scored.end(), [](int n) { return n == 1; }));
    if (plan.starts.size() > 1) CHECK(context >= T - S);
  }
}

TEST_CASE("sliding windows with context score each chunk token once, every one with >= T-S tokens before it") {
  for (auto [C, T, S] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{96, 32, 8}, {512, 512, 64}, {100, 32, 12}, {64, 64, 64}}) {
    INFO(C << " " << T << " " << S);
    const auto plan = plan_sliding_with_context(C, T, S);
    CHECK(plan.starts.front() == S - T);  // reaches T - S tokens before the chunk
    std::vector<int> scored(size_t(C), 0);
    int64_t min_context = C;
    for (size_t w = 0; w < plan.starts.size(); ++w)
      for (int64_t p = plan.score_from[w]; p < T; ++p) {
        REQUIRE(plan.starts[w] + p >= 0);
        ++scored[size_t(plan.starts[w] + p)];
        min_context = std::min(min_context, p);
      }
    CHECK(std::all_of(scored.begin(), scored.end(), [](int n) { return n == 1; }));
    CHECK(min_context >= T - S);
  }
}

TEST_CASE("sliding with stride = window equals non-overlapping") {
  auto a = plan_windows(Protocol::kSliding, 96, 32, 32), b = plan_windows(Protocol::kNonoverlapping, 96, 32, 0);
  CHECK(a.starts == b.starts);
  CHECK(a.score_from == b.score_from);
  CHECK(b.score_from == std::vector<int64_t>{0, 0, 0});
}

TEST_CASE("the evaluation sample covers every held-out document, the same chunks at every length") {
  // 40 documents of 30..225 tokens; a budget larger than the split takes every chunk slot.
  std::vector<int64_t> starts;
  int64_t total = 0;
  for (int d = 0; d < 40; ++d) starts.push_back(total), total += 30 + (d * 37) % 196;
  const auto all = sample_evaluation(SampleKind::kStream, total, starts, {16, 32, 48}, 1 << 30, 7);
  CHECK(all.chunk == 96);  // lcm of the lengths
  CHECK(all.documents == 40);
  for (int64_t s : all.starts) CHECK(s + 97 <= total);
  // A smaller budget draws a subset, from all over the split, deterministically from the seed.
  const auto some = sample_evaluation(SampleKind::kStream, total, starts, {16, 32, 48}, 960, 7);
  CHECK(some.starts.size() == 10);
  CHECK(some.starts == sample_evaluation(SampleKind::kStream, total, starts, {16, 32, 48}, 960, 7).starts);
  CHECK(some.starts != sample_evaluation(SampleKind::kStream, total, starts, {16, 32, 48}, 960, 8).starts);
  CHECK(some.starts.back() > total / 2);  // not the first tokens of the stream
  // "documents": only documents of at least chunk + 1 tokens, each truncated to one chunk at its start.
  const auto docs = sample_evaluation(SampleKind::kDocuments, total, starts, {16, 32, 48}, 1 << 30, 7);
  int64_t long_enough = 0;
  for (size_t d = 0; d < starts.size(); ++d)
    long_enough += ((d + 1 < starts.size() ? starts[d + 1] : total) - starts[d]) >= 97;
  CHECK(docs.eligible_documents == long_enough);
  CHECK(int64_t(docs.starts.size()) == long_enough);
  CHECK(docs.documents == long_enough);
  for (int64_t s : docs.starts) CHECK(std::find(starts.begin(), starts.end(), s) != starts.end());
  CHECK_THROWS_WITH(sample_evaluation(SampleKind::kDocuments, total, starts, {256}, 1 << 30, 7),
                    Catch::Contains("at least 257") && Catch::Contains("longest held-out document has"));
  CHECK_THROWS_WITH(sample_evaluation(SampleKind::kStream, 1000, {0}, {128, 384, 512}, 5000, 7),
                    Catch::Contains("1000 tokens") && Catch::Contains("1537"));
  // Sliding context: stream chunks start at >= P; document chunks P tokens into their document.
  const auto with_context = sample_evaluation(SampleKind::kStream, total, starts, {16, 32, 48}, 1 << 30, 7, 40);
  CHECK(with_context.starts.front() >= 40);
  const auto docs_context = sample_evaluation(SampleKind::kDocuments, total, starts, {16, 32, 48}, 1 << 30, 7, 40);
  for (int64_t s : docs_context.starts) CHECK(std::find(starts.begin(), starts.end(), s - 40) != starts.end());
  CHECK(docs_context.eligible_documents < docs.eligible_documents);  // needs 40 + 96 + 1 tokens
}

TEST_CASE("evaluate: token counts, buckets and protocols agree on a tiny model") {
  auto model = test::tiny_model("alibi", 16, 64);
  torch::manual_seed(0);
  auto held = torch::randint(256, {450}, torch::kUInt8);
  EvalSample sample;
  sample.chunk = 384;
  sample.context = 48;  // T - S for the sliding run below
  sample.starts = {48};
  sample.document_starts = {0, 100, 250};
  EvalOptions o;
  o.train_length = 16;
  o.bucket_width = 16;
  o.batch_tokens = 100;  // several batches
  o.bf16 = false;
  auto non = evaluate(model, held, sample, 64, o);
  CHECK(non.tokens == 384);
  CHECK(non.windows == 6);
  CHECK(non.ppl == Approx(std::exp(non.nll)));
  CHECK(non.nll_stderr > 0);
  int64_t bucket_tokens = 0;
  for (const auto& b : non.buckets) bucket_tokens += b.tokens;
  CHECK(bucket_tokens == non.tokens);
  CHECK(non.buckets.size() == 4);
  CHECK(non.last_l_tokens == 6 * 16);
  // Each scored token counts for its document: targets 49..432 fall 51 / 150 / 183 into the three.
  CHECK(non.document_ids == std::vector<int64_t>{0, 1, 2});
  CHECK(non.document_tokens == std::vector<int64_t>{51, 150, 183});
  CHECK(non.nll_stderr == Approx(clustered_stderr(non.document_nll, non.document_tokens)));

  o.protocol = Protocol::kSliding;
  o.stride = 64;
  auto same = evaluate(model, held, sample, 64, o);
  CHECK(same.nll == Approx(non.nll).epsilon(1e-9));

  o.stride = 16;
  auto sliding = evaluate(model, held, sample, 64, o);
  CHECK(sliding.tokens == 384);
  CHECK(sliding.windows == 24);  // from 48 tokens before the chunk, stride 16
  int64_t sliding_bucket_tokens = 0;
  for (const auto& b : sliding.buckets) sliding_bucket_tokens += b.tokens;
  CHECK(sliding_bucket_tokens == 384);
}

// A stream a small model can only predict through positions: each token is a fixed successor of
// the token three places back 80% of the time, else random. Learning it means attending to
// offset 3, which the rotary tables encode.
static torch::Tensor offset_stream(int64_t n, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto successor = torch::randperm(64, gen, torch::kInt64);
  auto noise = torch::randint(64, {n}, gen, torch::kInt64);
  auto keep = torch::rand({n}, gen) < 0.8;
  std::vector<int64_t> out = {1, 2, 3};
  for (int64_t i = 3; i < n; ++i)
    out.push_back(keep[i].item<bool>() ? successor[out[size_t(i - 3)]].item<int64_t>() : noise[i].item<int64_t>());
  return torch::tensor(out).to(torch::kUInt8);
}

TEST_CASE("bf16 evaluation of a trained model stays within 0.005 nats of fp32 at 4L, with every scaling") {
  // Untrained models predict near-uniformly, where bf16 cannot go wrong; a trained one has
  // peaked logits and learned rotary use. Trained in fp32 for 60 steps (loss must fall), then
  // scored at 4L in both precisions.
  const auto all = offset_stream(21100, 3);
  const auto stream = all.narrow(0, 0, 20000), held = all.narrow(0, 20000, 1100);  // one bigram table
  auto model = test::tiny_model("rope", 16, 64, 64);
  const auto stats = train(model, stream, test::quick_job(16, 150), torch::kCPU);
  INFO("loss " << stats.first_loss << " -> " << stats.final_loss);
  REQUIRE(stats.final_loss < stats.first_loss - 1.0);
  EvalSample sample;
  sample.chunk = 1024;
  sample.starts = {0};
  for (int64_t d = 0; d < 1024; d += 64) sample.document_starts.push_back(d);  // 64-token "documents"
  EvalOptions o;
  o.train_length = 16;
  o.batch_tokens = 16384;
  double worst = 0, worst_window = 0;
  for (const std::string method : {"none", "pi", "ntk", "yarn", "dynamic-ntk"}) {
    Scaling s;
    s.method = method;
    model->encoding().set_scaling(validate_scaling(s));
    o.bf16 = false;
    const auto fp32 = evaluate(model, held, sample, 64, o);
    o.bf16 = true;
    const auto bf16 = evaluate(model, held, sample, 64, o);
    INFO(method << ": fp32 " << fp32.nll << " bf16 " << bf16.nll);
    CHECK(bf16.nll != fp32.nll);  // bf16 really ran
    worst = std::max(worst, std::abs(bf16.nll - fp32.nll));
    for (size_t d = 0; d < fp32.document_nll.size(); ++d)
      worst_window = std::max(worst_window, std::abs(bf16.document_nll[d] - fp32.document_nll[d]) / double(fp32.document_tokens[d]));
  }
  // Measured on Zen 5: 0.0009 overall, 0.008 on the worst 64-token window.
  INFO("max |nll(bf16) - nll(fp32)| = " << worst << " nats overall (tolerance 0.005), " << worst_window
       << " on the worst window (tolerance 0.02)");
  CHECK(worst < 0.005);
  CHECK(worst_window < 0.02);
}

// A planted scorer that copies digits from context: at each position it finds the most recent
// earlier place (within `reach` tokens) where the same `k` tokens occurred and, if a digit
// followed them there, predicts that digit -- an induction head for numbers. Everything else it
// gets wrong, so it passes only if exactly the key's tokens are scored. With the whole window in
// reach it retrieves every key; with a short reach only keys planted near the question.
static LogitsFn copy_scorer(int64_t reach, int64_t k = 8) {
  return [=](const torch::Tensor& tokens) {
    const int64_t B = tokens.size(0), T = tokens.size(1);
    auto logits = torch::zeros({B, T, 256});
    auto acc = tokens.accessor<int64_t, 2>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = k - 1; t < T; ++t)
        for (int64_t j = t - 1; j >= std::max<int64_t>(k - 1, t - reach); --j) {
          int64_t m = 0;
          while (m < k && acc[b][j - m] == acc[b][t - m]) ++m;
          if (m == k) {
            // Copies digits only (the key); elsewhere it predicts nothing right.
            if (acc[b][j + 1] >= '0' && acc[b][j + 1] <= '9')
              logits[b][t][acc[b][j + 1]] = 20.0;  // nll of the copied digit: log(1 + 255 e^-20) ~ 5e-7
            break;
          }
        }
    return logits;
  };
}

TEST_CASE("the passkey probe counts a planted copier's retrievals by depth") {
  PasskeyOptions o;
  o.digits = 5;
  o.seed = 1234;
  o.trials = 4;
  o.depths = {0.0, 0.5, 1.0};
  const int64_t T = 400;
  // Whole window in reach: every key at every depth, with a small nll on the key's digits.
  auto all = passkey_probe(copy_scorer(T), T, o);
  REQUIRE(all.size() == 3);
  for (const auto& r : all) {
    INFO("depth " << r.depth);
    CHECK(r.trials == 4);
    CHECK(r.retrieved == 4);
    CHECK(r.digit_nll < 0.01);
  }
  // Reach 120: the needle (59 bytes) ends right before the 43-byte question only at depth 1,
  // and lies ~300 tokens back at depth 0 and ~150 at depth 0.5.
  auto near = passkey_probe(copy_scorer(120), T, o);
  CHECK(near[0].retrieved == 0);
  CHECK(near[1].retrieved == 0);
  CHECK(near[2].retrieved == 4);
  // A scorer with no information retrieves nothing.
  auto blind = passkey_probe([](const torch::Tensor& t) { return torch::zeros({t.size(0), t.size(1), 256}); }, T, o);
  for (const auto& r : blind) CHECK(r.retrieved == 0);
}

TEST_CASE("the passkey probe runs on a model at every depth asked") {
  auto model = test::tiny_model("rope", 16, 256);
  PasskeyOptions o;
  o.digits = 5;
  o.seed = 1234;
  o.trials = 3;
  o.depths = {0.2, 0.8};
  o.bf16 = false;
  auto results = passkey_probe(model, 200, o);
  REQUIRE(results.size() == 2);
  CHECK(results[0].depth == 0.2);
  CHECK(results[1].depth == 0.8);
  CHECK(results[0].eval_length == 200);
  CHECK(results[0].trials == 3);
  CHECK(std::isfinite(results[0].digit_nll));
}

TEST_CASE("passkey prompts under a subword tokenizer have T+1 tokens and end with the key's tokens") {
  test::TempDir dir;
  std::string text;
  uint64_t x = 3;
  auto word = [&] {
    std::string w;
    for (int k = 0; k < 5; ++k) w += char('a' + ((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33) % 8);
    return w;
  };
  for (int i = 0; i < 3000; ++i)
    text += "The pass key is " + std::to_string(i * 7919 % 100000) + ". " + word() + " " + word() + "\n";
  DataConfig d;
  d.path = dir.file("keys.txt", text);
  d.cache_dir = (dir.path / "cache").string();
  d.tokenizer.kind = TokenizerKind::kSentencePiece;
  d.tokenizer.vocab_size = 320;
  const auto tokenizer = load_corpus(d).tokenizer;
  const auto prompt = passkey_prompt(*tokenizer, 300, 0.5, "40721");
  REQUIRE(prompt.ids.size() == 301);
  REQUIRE(prompt.answer_tokens >= 5);  // split_digits: at least one token per digit
  const std::vector<int32_t> answer(prompt.ids.end() - prompt.answer_tokens, prompt.ids.end());
  const std::string decoded = tokenizer->decode(answer);
  CHECK(decoded.substr(decoded.size() - 5) == "40721");
  CHECK(tokenizer->decode(prompt.ids).find("The pass key is 40721. Remember it.") != std::string::npos);
}
