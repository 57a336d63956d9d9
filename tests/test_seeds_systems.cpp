// The systems the seed notes name: learned relative embeddings (Shaw, DeBERTa), Transformer-XL's
// memory, sparse + global patterns (Longformer, BigBird), linear attention, RoPE-ABF, and
// extending an absolute table. Each against hand-computed values from its paper's definition,
// plus the property that defines it.
#include "encodings/encoding.h"
#include "encodings/rope_scaling.h"
#include "harness/model/attention.h"
#include "harness/run/config_load.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

namespace {

torch::Tensor param(Encoding& e, const std::string& name) { return e.named_parameters()[name]; }

}  // namespace

TEST_CASE("Shaw: logits add q . a^K of the clipped distance, values add sum alpha a^V") {
  auto enc = make_encoding(test::spec_of("shaw", 2, 1, 8, 8, {{"max_distance", 2}}));
  {
    torch::NoGradGuard g;
    // a^K_d = (d + 1, 10 d): distances 0, 1, 2 (and everything past 2 shares 2).
    param(*enc, "key").copy_(torch::tensor({1.f, 0.f, 2.f, 10.f, 3.f, 20.f}).view({1, 3, 2}));
    param(*enc, "value").copy_(torch::tensor({0.f, 1.f, 5.f, 0.f, 7.f, 7.f}).view({1, 3, 2}));
  }
  auto q = torch::tensor({1.f, 1.f}).view({1, 1, 1, 2}).expand({1, 1, 4, 2}).contiguous();
  auto scores = torch::zeros({1, 1, 4, 4});
  auto extra = enc->contextual_logits(q, q, scores, 0, 0)[0][0];
  // q . a^K: distance 0 -> 1, 1 -> 12, 2 -> 23, 3 -> 23 (clipped).
  CHECK(extra[3][3].item<double>() == Approx(1));
  CHECK(extra[3][2].item<double>() == Approx(12));
  CHECK(extra[3][1].item<double>() == Approx(23));
  CHECK(extra[3][0].item<double>() == Approx(23));
  // Only the clipped offset matters: every (i, i - d) pair has the same logit.
  for (int64_t i = 1; i < 4; ++i) CHECK(extra[i][i - 1].item<double>() == extra[1][0].item<double>());
  // Values: query 3 attending 1/2 to key 3 (distance 0) and 1/2 to key 0 (distance 3 -> 2):
  // 0.5 a^V_0 + 0.5 a^V_2 = (3.5, 4).
  auto probs = torch::zeros({1, 1, 4, 4});
  probs[0][0][3][3] = 0.5;
  probs[0][0][3][0] = 0.5;
  auto values = enc->contextual_values(probs, 0, 0)[0][0][3];
  CHECK(values[0].item<double>() == Approx(3.5));
  CHECK(values[1].item<double>() == Approx(4.0));
  // A block of query rows (first query 2) gives the same rows.
  auto block = enc->contextual_logits(q.narrow(2, 0, 2), q, scores.narrow(2, 2, 2), 0, 2)[0][0];
  CHECK(torch::equal(block, extra.narrow(0, 2, 2)));
}

TEST_CASE("DeBERTa: content-to-position and position-to-content terms over shared embeddings, scaled by 1/sqrt(3d)") {
  auto enc = make_encoding(test::spec_of("deberta", 2, 1, 8, 8, {{"max_distance", 2}}));
  {
    torch::NoGradGuard g;
    param(*enc, "relative").copy_(torch::tensor({1.f, 0.f, 0.f, 1.f}).view({2, 2}));  // P_0 = e1, P_1 = e2
    param(*enc, "key_proj").copy_(torch::eye(2).unsqueeze(0));
    param(*enc, "query_proj").copy_(torch::eye(2).unsqueeze(0) * 2);
  }
  CHECK(enc->positions(4, torch::kCPU).logit_scale == Approx(1 / std::sqrt(3.0)));
  auto q = torch::tensor({3.f, 5.f}).view({1, 1, 1, 2}).expand({1, 1, 3, 2}).contiguous();
  auto k = torch::tensor({7.f, 11.f}).view({1, 1, 1, 2}).expand({1, 1, 3, 2}).contiguous();
  auto extra = enc->contextual_logits(q, k, torch::zeros({1, 1, 3, 3}), 0, 0)[0][0];
  // (2, 2): distance 0: q . P_0 + k . 2 P_0 / sqrt(6) = 3 + 14 / sqrt(6).
  CHECK(extra[2][2].item<double>() == Approx(3 + 14 / std::sqrt(6.0)));
  // (2, 1) and (2, 0): distances 1 and 2 -> bucket 1 (clipped): 5 + 22 / sqrt(6).
  CHECK(extra[2][1].item<double>() == Approx(5 + 22 / std::sqrt(6.0)));
  CHECK(extra[2][0].item<double>() == Approx(5 + 22 / std::sqrt(6.0)));
}

TEST_CASE("Longformer and BigBird masks have the stated pattern, and with the causal mask nothing sees the future") {
  // Longformer: width 2, globals every 4 and the first 1: row 6 sees 5, 6 (window) and 0, 4 (global).
  auto lf = make_encoding(test::spec_of("longformer", 8, 1, 8, 16, {{"width", 2}, {"global_every", 4}, {"global_first", 1}}));
  const auto v = lf->inspect(9)["visible"];
  CHECK(v[6] == json({1, 0, 0, 0, 1, 1, 1, 1, 1}));  // j > i is left to the causal mask
  CHECK(v[8] == json({1, 1, 1, 1, 1, 1, 1, 1, 1}));  // 8 is global: it sees everything before it
  auto bb = make_encoding(test::spec_of("bigbird", 8, 1, 8, 32,
                                        {{"block", 2}, {"window_blocks", 2}, {"global_blocks", 1}, {"random_blocks", 1}}));
  const auto blocks = bb->inspect(16)["visible_blocks"];
  CHECK(blocks[0] == json({0}));
  CHECK(blocks[1] == json({0, 1}));
  for (size_t b = 3; b < blocks.size(); ++b) {
    INFO("query block " << b);
    const auto seen = blocks[b].get<std::vector<int64_t>>();
    CHECK(seen.size() == 4);  // global 0, window b - 1 and b, one random earlier block
    CHECK(std::count(seen.begin(), seen.end(), int64_t(b - 1)) == 1);
    CHECK(seen.back() == int64_t(b));
  }
  // The same random blocks at every length: a query's pattern does not depend on T.
  CHECK(bb->inspect(32)["visible_blocks"][5] == blocks[5]);
  for (auto* enc : {lf.get(), bb.get()}) {
    auto mask = enc->bias(0, 16, torch::kCPU)[0] +
                torch::full({16, 16}, -std::numeric_limits<float>::infinity()).triu(1);
    CHECK(torch::isinf(mask).logical_and(mask < 0).triu(1).sum().item<int64_t>() == 16 * 15 / 2);
    // Rows of a block equal the same rows of the whole table.
    CHECK(torch::equal(enc->bias(5, 9, torch::kCPU), enc->bias(0, 9, torch::kCPU).narrow(1, 5, 4)));
  }
}

TEST_CASE("linear attention in chunked prefix-sum form equals its quadratic form") {
  torch::manual_seed(5);
  const int64_t B = 2, H = 3, T = 11, d = 4;
  auto phi = [](const torch::Tensor& x) { return torch::elu(x) + 1; };
  auto q = phi(torch::randn({B, H, T, d})), k = phi(torch::randn({B, H, T, d})), v = torch::randn({B, H, T, 5});
  auto a = q * 1.3, b = k * 0.7;  // numerator features that differ from the denominator's
  auto causal = torch::ones({T, T}).tril();
  auto expected = torch::matmul(torch::matmul(a, b.transpose(-2, -1)) * causal, v) /
                  ((torch::matmul(q, k.transpose(-2, -1)) * causal).sum(-1, true) + 1e-6);
  for (int64_t chunk : {1, 3, 4, 11, 64}) {
    INFO("chunk " << chunk);
    auto out = linear_attention(a, b, q, k, v, chunk);
    CHECK(torch::allclose(out, expected, 1e-4, 1e-5));
  }
}

TEST_CASE("Transformer-XL: segment recurrence with a segment of memory equals full causal attention over both") {
  // With memory >= L, each layer of segment 2 attends to exactly the inputs the full pass has at
  // positions < L (causal: segment 1 saw no later token), so the logits agree.
  const Config c = test::tiny_config("txl", 8, 32, 4, 2, {{"memory", 8}});
  GPT model = build_model(c, c.runs[0], 256, 32, 3);
  test::scramble_weights(model);
  auto tokens = torch::randint(256, {2, 16}, torch::kInt64);
  torch::NoGradGuard g;
  model->eval();
  model->set_recurrent(false);
  const auto full = model->forward(tokens);
  model->set_recurrent(true);
  const auto segments = model->forward(tokens);
  INFO("max |diff| " << (full - segments).abs().max().item<double>());
  CHECK(torch::allclose(full, segments, 1e-4, 1e-4));
  // With less memory the second segment sees less: the logits differ past the memory.
  const Config short_memory = test::tiny_config("txl", 8, 32, 4, 2, {{"memory", 2}});
  GPT forgetful = build_model(short_memory, short_memory.runs[0], 256, 32, 3);
  test::scramble_weights(forgetful);
  forgetful->eval();
  forgetful->set_recurrent(true);
  const auto partial = forgetful->forward(tokens);
  CHECK(torch::allclose(partial.narrow(1, 0, 8), full.narrow(1, 0, 8), 1e-4, 1e-4));  // segment 1 alike
  CHECK(!torch::allclose(partial.narrow(1, 8, 8), full.narrow(1, 8, 8), 1e-3, 1e-3));
}

TEST_CASE("Transformer-XL's memory carries no gradient: the recurrent gradient lacks the paths through it") {
  // The same forward values (memory = L, as above), so any difference between the gradients of
  // the second segment's loss is the gradient that full attention sends back through segment 1's
  // hidden states and the detached memory does not.
  const Config c = test::tiny_config("txl", 8, 32, 4, 2, {{"memory", 8}});
  torch::manual_seed(9);
  const auto tokens = torch::randint(256, {2, 16}, torch::kInt64);
  auto gradient = [&](bool recurrent) {
    GPT model = build_model(c, c.runs[0], 256, 32, 3);
    test::scramble_weights(model, 0.1);
    model->eval();  // eval: no recurrence unless asked, so full attention is available too
    model->set_recurrent(recurrent);
    model->forward(tokens).narrow(1, 8, 8).pow(2).mean().backward();
    return model->named_parameters()["blocks.0.fc.weight"].grad().clone();
  };
  const auto detached = gradient(true), full = gradient(false);
  CHECK(detached.abs().sum().item<double>() > 0);
  CHECK(!torch::allclose(detached, full, 1e-5, 1e-7));
}

TEST_CASE("ABF at the model's own base is plain RoPE, and another base changes every frequency but the first") {
  Scaling abf;
  abf.method = "abf";
  abf.options = {{"abf_base", 10000.0}};
  const auto same = rope_frequencies(8, 10000.0, validate_scaling(abf), 16, 64);
  const auto plain = rope_frequencies(8, 10000.0, validate_scaling(Scaling{}), 16, 64);
  CHECK(same.inv_freq == plain.inv_freq);
  abf.options = {{"abf_base", 1e6}};
  const auto raised = rope_frequencies(8, 10000.0, validate_scaling(abf), 16, 64);
  CHECK(raised.inv_freq[0] == 1.0);
  CHECK(raised.inv_freq[3] == Approx(std::pow(1e6, -6.0 / 8)));
  abf.options = {{"abf_base", 0.0}};
  CHECK_THROWS_WITH(validate_scaling(abf), Catch::Contains("abf_base"));
}

TEST_CASE("extending a learned table: copy tiles the trained rows, interpolate samples them compressed") {
  auto enc = make_encoding(test::spec_of("learned", 2, 1, 4, 8));
  {
    torch::NoGradGuard g;
    param(*enc, "table").copy_(torch::arange(16, torch::kFloat32).view({8, 2}));  // row p = (2p, 2p + 1)
  }
  enc->extend_positions(4, 8, "copy");
  auto t = param(*enc, "table");
  CHECK(torch::equal(t.narrow(0, 4, 4), t.narrow(0, 0, 4)));
  CHECK(t[5][0].item<double>() == 2.0);  // row 5 = row 1
  auto interp = make_encoding(test::spec_of("learned", 2, 1, 4, 8));
  {
    torch::NoGradGuard g;
    param(*interp, "table").copy_(torch::arange(16, torch::kFloat32).view({8, 2}));
  }
  interp->extend_positions(4, 7, "interpolate");
  auto u = param(*interp, "table");
  // Row p takes the trained table at p * 3 / 6 = p / 2: row 3 -> 1.5 -> (3, 4); row 6 -> 3 -> (6, 7).
  CHECK(u[3][0].item<double>() == Approx(3.0));
  CHECK(u[3][1].item<double>() == Approx(4.0));
  CHECK(u[6][0].item<double>() == Approx(6.0));
  CHECK(u[0][0].item<double>() == Approx(0.0));
  CHECK_THROWS_WITH(make_encoding(test::spec_of("rope", 8, 1, 4, 8))->extend_positions(4, 8, "copy"),
                    Catch::Contains("no position table"));
}

TEST_CASE("bad options of the new systems are one config error naming the key, before training") {
  auto with_run = [](json run, json eval = json::object()) {
    json cfg = {{"model", {{"layers", 1}, {"d_model", 32}, {"heads", 2}}}, {"train", {{"length", 16}}},
                {"runs", json::array({run})}};
    if (!eval.empty()) cfg["eval"] = eval;
    return cfg;
  };
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "shaw"}, {"max_distance", 0}})),
                    Catch::Contains("runs[0].max_distance") && Catch::Contains(">= 1"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "txl"}, {"memory", -1}})), Catch::Contains("runs[0].memory"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}}, {{"protocols", {"recurrent"}}})),
                    Catch::Contains("recurrent") && Catch::Contains("has none"));
  CHECK_NOTHROW(parse_config(with_run({{"encoding", "txl"}}, {{"protocols", {"recurrent", "nonoverlapping"}}})));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "longformer"}, {"width", 32}})),
                    Catch::Contains("runs[0].width") && Catch::Contains("train.length = 16"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "bigbird"}, {"block", 3}})),
                    Catch::Contains("runs[0].block") && Catch::Contains("divide"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "alibi"}, {"attention", "linear"}})),
                    Catch::Contains("runs[0].attention") && Catch::Contains("cannot take encoding \"alibi\""));
  CHECK_NOTHROW(parse_config(with_run({{"encoding", "rope"}, {"attention", "linear"}})));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"scaling", "abf"}, {"abf_base", 0}})),
                    Catch::Contains("runs[0].abf_base"));
  CHECK_THROWS_WITH(parse_config(with_run({{"encoding", "rope"}, {"finetune", {{"steps", 5}, {"extend", "copy"}}}})),
                    Catch::Contains("finetune.extend") && Catch::Contains("learned"));
}
