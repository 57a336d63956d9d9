// Synthetic tasks: each generator's format, determinism and answers (checked by parsing the
// instance independently of how it was built), scoring that counts answer tokens only, the
// training batches' loss weights, and a task config end to end.
#include <map>
#include <set>

#include "harness/run/config_load.h"
#include "harness/data/sampler.h"
#include "harness/data/tasks.h"
#include "harness/eval/task_eval.h"
#include "harness/train/trainer.h"
#include "harness/report/tables.h"
#include "harness/run/experiment.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

namespace {

constexpr int32_t kSep = 1, kNeedle = 2;

std::vector<int32_t> answer_of(const TaskInstance& x) {
  std::vector<int32_t> a;
  for (size_t i = 0; i < x.tokens.size(); ++i)
    if (x.answer[i]) a.push_back(x.tokens[i]);
  return a;
}

int64_t index_of(const std::vector<int32_t>& v, int32_t token, size_t from = 0) {
  for (size_t i = from; i < v.size(); ++i)
    if (v[i] == token) return int64_t(i);
  return -1;
}

int64_t digits_value(const std::vector<int32_t>& digits) {
  int64_t n = 0;
  for (auto d : digits) n = n * 10 + (d - 10);
  return n;
}

}  // namespace

TEST_CASE("every task makes instances of exactly the asked length, the same ones for the same seed and index") {
  for (const auto& name : task_names()) {
    INFO(name);
    for (int64_t length : {task_info(name).min_length, int64_t(33), int64_t(257)}) {
      const auto a = make_task_instance(name, length, 7, 3);
      REQUIRE(int64_t(a.tokens.size()) == length);
      REQUIRE(a.answer.size() == a.tokens.size());
      CHECK(!answer_of(a).empty());
      CHECK(a.answer[0] == 0);
      for (auto t : a.tokens) CHECK((t >= 0 && t < kTaskVocab));
      const auto b = make_task_instance(name, length, 7, 3);
      CHECK(a.tokens == b.tokens);
      CHECK(a.answer == b.answer);
    }
    CHECK(make_task_instance(name, 64, 7, 3).tokens != make_task_instance(name, 64, 7, 4).tokens);
    CHECK(make_task_instance(name, 64, 7, 3).tokens != make_task_instance(name, 64, 8, 3).tokens);
    CHECK_THROWS_WITH(make_task_instance(name, task_info(name).min_length - 1, 7, 3), Catch::Contains("at least"));
  }
  CHECK_THROWS_WITH(make_task_instance("sort", 64, 1, 1), Catch::Contains("allowed: copy, reverse, recall, passkey, count"));
}

TEST_CASE("copy and reverse answer with the string before the separator, forwards and backwards") {
  for (int64_t length : {4, 9, 64}) {
    const auto c = make_task_instance("copy", length, 1, 0), r = make_task_instance("reverse", length, 1, 0);
    const int64_t sep = index_of(c.tokens, kSep);
    const int64_t k = (length - 2) / 2;
    REQUIRE(sep == 1 + k);
    std::vector<int32_t> source(c.tokens.begin() + 1, c.tokens.begin() + sep);
    CHECK(answer_of(c) == source);
    std::vector<int32_t> r_source(r.tokens.begin() + 1, r.tokens.begin() + 1 + k);
    std::reverse(r_source.begin(), r_source.end());
    CHECK(answer_of(r) == r_source);
    for (size_t i = 0; i <= size_t(sep); ++i) CHECK(c.answer[i] == 0);  // nothing before the answer is scored
  }
}

TEST_CASE("recall answers each asked key with the value it was paired with (keys distinct)") {
  for (int64_t length : {6, 40, 300}) {
    INFO(length);
    const auto x = make_task_instance("recall", length, 5, 2, TaskConfig{});
    const int64_t sep = index_of(x.tokens, kSep);
    std::map<int32_t, int32_t> pairs;
    int64_t filler = 0;
    for (int64_t i = 1; i < sep;) {
      if (x.tokens[i] >= 192) {  // filler between pairs (only once the 96 keys are used up)
        ++filler, ++i;
        continue;
      }
      CHECK(!pairs.count(x.tokens[i]));
      pairs[x.tokens[i]] = x.tokens[i + 1];
      i += 2;
    }
    CHECK((filler == 0 || pairs.size() == 96));
    int64_t queries = 0;
    for (int64_t i = sep + 1; i + 1 < length && x.answer[size_t(i + 1)]; i += 2, ++queries) {
      REQUIRE(pairs.count(x.tokens[i]));
      CHECK(x.tokens[i + 1] == pairs[x.tokens[i]]);
    }
    CHECK(queries == std::max<int64_t>(1, std::min<int64_t>(4, (length - 2) / 4)));
    CHECK(int64_t(answer_of(x).size()) == queries);
  }
}

TEST_CASE("passkey answers with the digits of the needle it names (distractors named otherwise)") {
  for (int64_t length : {13, 64, 512}) {
    INFO(length);
    const auto x = make_task_instance("passkey", length, 9, 1, TaskConfig{});
    // The question is the last 6 tokens: [sep] name d d d d.
    const auto& t = x.tokens;
    const size_t q = t.size() - 6;
    REQUIRE(t[q] == kSep);
    std::vector<std::vector<int32_t>> named;
    for (size_t i = 0; i + 5 < q; ++i)
      if (t[i] == kNeedle && t[i + 1] == t[q + 1]) named.emplace_back(t.begin() + i + 2, t.begin() + i + 6);
    REQUIRE(named.size() == 1);
    CHECK(answer_of(x) == named[0]);
    const int64_t needles = std::count(t.begin(), t.begin() + q, kNeedle);
    CHECK(needles == std::min<int64_t>(3, (length - 7) / 6));
  }
}

TEST_CASE("count answers with how often the asked symbol occurs, in 3 digits") {
  for (int64_t length : {7, 100, 600}) {
    const auto x = make_task_instance("count", length, 3, 4);
    const int64_t sep = index_of(x.tokens, kSep);
    REQUIRE(sep == length - 5);
    const int32_t asked = x.tokens[size_t(sep + 1)];
    const int64_t n = std::count(x.tokens.begin() + 1, x.tokens.begin() + sep, asked);
    CHECK(digits_value(answer_of(x)) == n);
    CHECK(answer_of(x).size() == 3);
  }
  CHECK_THROWS_WITH(make_task_instance("count", 1006, 1, 1), Catch::Contains("at most 1005"));
}

// Copies like an oracle: after the separator at 1 + k, position t predicts input t - k.
static LogitsFn copy_oracle(bool miss_last) {
  return [miss_last](const torch::Tensor& tokens) {
    const int64_t B = tokens.size(0), T = tokens.size(1);
    auto logits = torch::zeros({B, T, kTaskVocab});
    for (int64_t b = 0; b < B; ++b) {
      const int64_t k = (T + 1 - 2) / 2;
      for (int64_t t = 0; t < T; ++t) {
        int64_t next = 0;  // before the answer: always wrong (padding)
        if (t >= k + 1 && t - k < T) next = tokens[b][t - k].item<int64_t>();
        if (miss_last && t == 2 * k) next = 0;
        logits[b][t][next] = 30.0;
      }
    }
    return logits;
  };
}

TEST_CASE("task scoring counts answer tokens only: exact match per instance and per answer token") {
  TaskEvalOptions o;
  o.instances = 6;
  o.seed = 1234;
  o.batch_tokens = 16384;
  const int64_t T = 21;  // instances of 22 tokens: k = 10 answer tokens
  json perfect = evaluate_task(copy_oracle(false), "copy", T, o);
  CHECK(perfect["accuracy"] == 1.0);
  CHECK(perfect["token_accuracy"] == 1.0);
  CHECK(perfect["tokens"] == 60);
  CHECK(perfect["nll"].get<double>() < 1e-6);
  CHECK(perfect["accuracy_stderr"] == 0.0);
  json missed = evaluate_task(copy_oracle(true), "copy", T, o);
  CHECK(missed["accuracy"] == 0.0);
  CHECK(missed["token_accuracy"].get<double>() == Approx(0.9));
  CHECK(missed["per_document"]["unit"] == "instance");
  CHECK(missed["per_document"]["token_accuracy_sum"][0] == 9.0);
  CHECK(missed["per_document"]["tokens"][0] == 10);
}

TEST_CASE("task batches: rows of random tasks and lengths, weights exactly on answer targets, reproducible") {
  TaskConfig tasks;
  tasks.names = {"copy", "count"};
  tasks.min_length = 0.5;
  auto source = task_batches(tasks, 32);
  const TrainBatch a = source(16, 32, 3, 7), b = source(16, 32, 3, 7);
  CHECK(torch::equal(a.tokens, b.tokens));
  CHECK(!torch::equal(a.tokens, source(16, 32, 3, 8).tokens));
  REQUIRE(a.tokens.sizes() == torch::IntArrayRef({16, 33}));
  REQUIRE(a.weights.sizes() == torch::IntArrayRef({16, 32}));
  std::set<int64_t> markers;
  for (int64_t r = 0; r < 16; ++r) {
    markers.insert(a.tokens[r][0].item<int64_t>());
    // The row is one instance: regenerate it from its marker and length and compare the weights.
    const int64_t used = 33 - a.tokens[r].flip(0).cumsum(0).eq(0).sum().item<int64_t>();
    CHECK(used >= 17 - 1);
    const auto w = a.weights[r];
    CHECK(w.sum().item<double>() > 0);
    CHECK(w.narrow(0, 0, 2).sum().item<double>() == 0);  // the first targets are never answers
  }
  CHECK(markers == std::set<int64_t>{3, 7});  // copy and count both drawn
  // batch_loss averages the nll over weighted targets only.
  auto logits = torch::randn({16, 32, kTaskVocab});
  auto nll = token_nll(logits, a.tokens.narrow(1, 1, 32));
  CHECK(batch_loss(logits, a).item<double>() == Approx(nll.masked_select(a.weights.gt(0)).mean().item<double>()));
}

TEST_CASE("task configs: names, lengths and the passkey probe are checked") {
  auto with = [](json task) {
    return json{{"train", {{"length", 32}}}, {"data", {{"task", task}}}, {"runs", {{{"encoding", "rope"}}}}};
  };
  CHECK_THROWS_WITH(parse_config(with({{"names", {"copy", "sort"}}})), Catch::Contains("data.task.names[1]") && Catch::Contains("allowed: copy"));
  CHECK_THROWS_WITH(parse_config(with({{"names", {"passkey"}}, {"min_length", 0.1}})),
                    Catch::Contains("data.task.min_length") && Catch::Contains("at least 13 tokens"));
  json cfg = with({{"names", {"copy"}}});
  cfg["eval"] = {{"passkey", {{"trials", 4}}}};
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("eval.passkey.trials"));
  cfg = with({{"names", {"copy"}}});
  cfg["claims"] = {{{"claim", "x"}, {"op", ">"}, {"metric", "accuracy"}, {"left", {{"run", "rope"}, {"length", 1}}},
                    {"right", {{"run", "rope"}, {"length", 4}}}}};
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("claims[0].task") && Catch::Contains("copy"));
  cfg["claims"][0]["task"] = "copy";
  CHECK_NOTHROW(parse_config(cfg));
}

TEST_CASE("a task config trains on answers, scores every task at every length, and tables accuracy") {
  test::TempDir dir;
  json cfg = json::parse(R"({
    "name": "tasks-e2e", "threads": 1, "seeds": [1, 2],
    "model": {"layers": 1, "d_model": 32, "heads": 2},
    "train": {"length": 24, "steps": 6, "batch_size": 4, "warmup_steps": 1, "log_every": 100},
    "data": {"task": {"names": ["copy", "recall"], "instances": 8, "min_length": 0.5}},
    "eval": {"lengths": [1, 2]},
    "runs": [{"encoding": "nope"}, {"encoding": "rope"}],
    "claims": [{"claim": "nope copies at least as well as rope at 2L", "op": "<=", "metric": "accuracy",
                "task": "copy", "left": {"run": "rope", "length": 2}, "right": {"run": "nope", "length": 2}}]})");
  const auto out = (dir.path / "out").string();
  json report = run_experiment(parse_config(cfg), {out});
  REQUIRE(report["status"] == "complete");
  CHECK(report["evaluation"]["cluster_unit"] == "task instance");
  for (const auto& run : report["runs"]) {
    REQUIRE(run["results"].size() == 4);  // 2 tasks x 2 lengths
    for (const auto& r : run["results"]) {
      CHECK(r["protocol"] == "task");
      CHECK(r["instances"] == 8);
      CHECK(r["seed_accuracy"].size() == 2);
      CHECK((r["accuracy"].get<double>() >= 0 && r["accuracy"].get<double>() <= 1));
      CHECK(r.contains("accuracy_stderr_parts"));
    }
  }
  REQUIRE(report["claims"].size() == 1);
  CHECK(report["claims"][0]["stderr_kind"].get<std::string>().find("8 instances and 2 seeds") != std::string::npos);
  TableOptions t;
  t.metric = "accuracy";
  t.protocol = "task";
  const std::string table = render_table({report}, t);
  CHECK_THAT(table, Catch::Contains("| rope · copy |") && Catch::Contains("| nope · recall |") && Catch::Contains("2L (48)"));
  t.metric = "ppl";
  CHECK_THROWS_WITH(render_table({report}, t), Catch::Contains("--metric ppl goes with a text protocol"));
  CHECK(test::slurp(std::filesystem::path(out) / "report.md").find("Exact match on the tasks") != std::string::npos);
}

TEST_CASE("passkey rows: a fraction of text rows become the probe's prompts, the loss on the key only") {
  auto stream = torch::randint(32, 127, {20000}, torch::kInt64).to(torch::kUInt8);
  auto source = with_passkey_rows(stream_batches(stream), 0.5, byte_tokenizer(), 5);
  const TrainBatch b = source(64, 160, 1, 3);
  CHECK(torch::equal(b.tokens, source(64, 160, 1, 3).tokens));
  int64_t prompts = 0;
  for (int64_t r = 0; r < 64; ++r) {
    const auto w = b.weights[r];
    if (w.sum().item<double>() == 160) continue;  // a text row: every target counts
    ++prompts;
    REQUIRE(w.sum().item<double>() == 5);
    // The weighted targets are the key's digits, right after "The pass key is".
    std::string key;
    for (int64_t t = 0; t < 160; ++t)
      if (w[t].item<float>() > 0) key += char(b.tokens[r][t + 1].item<int64_t>());
    CHECK(key.size() == 5);
    CHECK(std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; }));
    std::string text;
    for (int64_t t = 0; t <= 160; ++t) text += char(b.tokens[r][t].item<int64_t>());
    CHECK(text.find("The pass key is " + key + ". Remember it.") != std::string::npos);
  }
  CHECK(prompts >= 16);
  CHECK(prompts <= 48);
}

TEST_CASE("a count task config whose longest instance would not fit 3 digits fails before training") {
  json cfg = {{"train", {{"length", 300}}}, {"data", {{"task", {{"names", {"count"}}}}}}, {"runs", {{{"encoding", "rope"}}}}};
  CHECK_THROWS_WITH(parse_config(cfg), Catch::Contains("eval.lengths") && Catch::Contains("1005"));
  cfg["eval"] = {{"lengths", {1, 2, 3}}};
  CHECK_NOTHROW(parse_config(cfg));
}
