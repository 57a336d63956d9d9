// Each encoding against values derived by hand from its paper's formula, plus its properties.
#include <cmath>

#include "encodings/alibi.h"
#include "encodings/rope_scaling.h"
#include "encodings/sinusoidal.h"
#include "encodings/t5.h"
#include "tests/helpers.h"

using namespace lb;
using test::to_vector;

TEST_CASE("ALiBi slopes for 8 heads are 2^-1 ... 2^-8 (paper's geometric sequence)") {
  auto s = alibi_slopes(8);
  REQUIRE(s.size() == 8);
  for (int h = 0; h < 8; ++h) CHECK(s[h] == Approx(std::pow(2.0, -(h + 1))));
}

TEST_CASE("ALiBi slopes for non-power-of-two heads follow the reference interleaving") {
  // 6 heads: slopes of 4 heads (2^-2, 2^-4, 2^-6, 2^-8), then every other slope of 8 heads
  // (2^-1, 2^-3).
  auto s6 = alibi_slopes(6);
  std::vector<double> want6 = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
  REQUIRE(s6.size() == 6);
  for (int h = 0; h < 6; ++h) CHECK(s6[h] == Approx(want6[h]));
  // 12 heads: 8-head slopes then 16-head slopes 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
  auto s12 = alibi_slopes(12);
  REQUIRE(s12.size() == 12);
  CHECK(s12[8] == Approx(std::pow(2.0, -0.5)));
  CHECK(s12[11] == Approx(std::pow(2.0, -3.5)));
  CHECK(alibi_slopes(1) == std::vector<double>{std::pow(2.0, -8.0)});
  CHECK(alibi_slopes(3).size() == 3);
}

TEST_CASE("ALiBi bias has shape [H,T,T], is zero on the diagonal and -m*(i-j) below it") {
  EncodingSpec spec = test::spec_of("alibi", 64, 8, 16, 64);
  auto enc = make_encoding(spec);
  auto bias = enc->bias(0, 5, torch::kCPU);
  REQUIRE(bias.sizes() == torch::IntArrayRef({8, 5, 5}));
  CHECK(bias[0][3][1].item<double>() == Approx(-0.5 * 2));
  CHECK(bias[7][4][0].item<double>() == Approx(-4.0 / 256));
  CHECK(bias.diagonal(0, 1, 2).abs().max().item<double>() == 0.0);
  CHECK((bias.tril() <= 0).all().item<bool>());
}

TEST_CASE("T5 buckets: exact below 16, logarithmic to 128, capped at 31") {
  auto b = t5_bucket(torch::tensor({0, 1, 15, 16, 32, 64, 127, 128, 1000}), 32, 128);
  // 16 + floor(ln(n/16) / ln(8) * 16): n=32 -> 16+5, n=64 -> 16+10, n=127 -> 16+15.
  std::vector<int64_t> want = {0, 1, 15, 16, 21, 26, 31, 31, 31};
  for (size_t i = 0; i < want.size(); ++i) CHECK(b[i].item<int64_t>() == want[i]);
  auto all = t5_bucket(torch::arange(2000), 32, 128);
  CHECK((all.slice(0, 1) >= all.slice(0, 0, -1)).all().item<bool>());  // monotone
  CHECK(all.max().item<int64_t>() == 31);
}

TEST_CASE("T5 bias is [H,T,T] and depends only on the distance i-j") {
  EncodingSpec spec = test::spec_of("t5", 32, 4, 16, 64);
  auto enc = make_encoding(spec);
  torch::NoGradGuard g;
  for (auto& p : enc->parameters()) p.normal_();
  auto bias = enc->bias(0, 40, torch::kCPU);
  REQUIRE(bias.sizes() == torch::IntArrayRef({4, 40, 40}));
  CHECK(torch::allclose(bias.slice(1, 1).slice(2, 1), bias.slice(1, 0, -1).slice(2, 0, -1)));
  auto inspected = enc->inspect(20);
  CHECK(inspected["buckets"][17] == 16);
}

TEST_CASE("Sinusoidal table is interleaved sin/cos with base 10000") {
  auto t = sinusoidal_table(3, 4, 10000.0);
  // d=4: frequencies 1 and 10000^(-2/4) = 1/100.
  std::vector<double> row0 = {0, 1, 0, 1};
  std::vector<double> row1 = {std::sin(1.0), std::cos(1.0), std::sin(0.01), std::cos(0.01)};
  for (int i = 0; i < 4; ++i) {
    CHECK(t[0][i].item<double>() == Approx(row0[i]));
    CHECK(t[1][i].item<double>() == Approx(row1[i]).epsilon(1e-6));
    CHECK(t[2][i].item<double>() == Approx(i % 2 ? std::cos(2.0 * std::pow(0.01, i / 2)) : std::sin(2.0 * std::pow(0.01, i / 2))).epsilon(1e-6));
  }
}

TEST_CASE("RoPE inverse frequencies are base^(-2i/d)") {
  auto inv = rope_inv_freq(8, 10000.0);
  std::vector<double> want = {1.0, 0.1, 0.01, 0.001};
  for (int i = 0; i < 4; ++i) CHECK(inv[i] == Approx(want[i]));
}

TEST_CASE("apply_rotary rotates dimension i with i + d/2 by angle pos * inv_freq") {
  // head_dim 4: pairs (0,2) at frequency 1 and (1,3) at frequency 0.01; position 3.
  auto x = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 1, 1, 4});
  const double a0 = 3.0, a1 = 0.03;
  auto cos = torch::tensor({std::cos(a0), std::cos(a1)}, torch::kFloat32).view({1, 2});
  auto sin = torch::tensor({std::sin(a0), std::sin(a1)}, torch::kFloat32).view({1, 2});
  auto y = to_vector(apply_rotary(x, cos, sin));
  CHECK(y[0] == Approx(1 * std::cos(a0) - 3 * std::sin(a0)));
  CHECK(y[2] == Approx(1 * std::sin(a0) + 3 * std::cos(a0)));
  CHECK(y[1] == Approx(2 * std::cos(a1) - 4 * std::sin(a1)));
  CHECK(y[3] == Approx(2 * std::sin(a1) + 4 * std::cos(a1)));
}

// q.k between positions m and n for the same q and k vectors everywhere.
static torch::Tensor rotary_scores(const std::string& encoding, int64_t T) {
  EncodingSpec spec = test::spec_of(encoding, 16, 1, 8, T);
  auto enc = make_encoding(spec);
  auto pos = enc->positions(T, torch::kCPU);
  torch::manual_seed(3);
  auto q = torch::randn({1, 1, 1, 16}).expand({1, 1, T, 16});
  auto k = torch::randn({1, 1, 1, 16}).expand({1, 1, T, 16});
  auto rq = apply_rotary(q, pos.cos, pos.sin, pos.q_scale);
  auto rk = apply_rotary(k, pos.cos, pos.sin, pos.k_scale);
  return torch::matmul(rq, rk.transpose(-2, -1))[0][0];
}

TEST_CASE("RoPE and xPos scores depend only on the relative offset") {
  for (const std::string enc : {"rope", "xpos"}) {
    INFO(enc);
    auto s = rotary_scores(enc, 32);
    // S[m+1, n+1] == S[m, n] for every m, n (both directions of the offset).
    CHECK(torch::allclose(s.slice(0, 1).slice(1, 1), s.slice(0, 0, -1).slice(1, 0, -1), 1e-4, 1e-4));
    // ... and not constant: the offset matters.
    CHECK(std::abs(s[5][5].item<double>() - s[5][0].item<double>()) > 1e-3);
  }
}

TEST_CASE("xPos decays with distance for the low dimensions") {
  EncodingSpec spec = test::spec_of("xpos", 16, 1, 8, 64);
  auto pos = make_encoding(spec)->positions(64, torch::kCPU);
  // q_scale * k_scale across offset 10 equals zeta^(10/512) per dimension, below 1.
  auto cross = pos.q_scale[30] * pos.k_scale[20];
  const double zeta0 = 0.4 / 1.4;
  CHECK(cross[0].item<double>() == Approx(std::pow(zeta0, 10.0 / 512)).epsilon(1e-5));
  CHECK((cross < 1).all().item<bool>());
}

TEST_CASE("KERPLE log bias is -r1*log(1+r2*(i-j)), zero on the diagonal") {
  EncodingSpec spec = test::spec_of("kerple", 32, 4, 16, 64);
  auto enc = make_encoding(spec);
  torch::NoGradGuard g;
  auto params = enc->named_parameters();
  params["r1"].fill_(2.0);
  params["r2"].fill_(0.5);
  auto bias = enc->bias(0, 8, torch::kCPU);
  REQUIRE(bias.sizes() == torch::IntArrayRef({4, 8, 8}));
  CHECK(bias[1][6][2].item<double>() == Approx(-2.0 * std::log(1 + 0.5 * 4)));
  CHECK(bias.diagonal(0, 1, 2).abs().max().item<double>() == 0.0);
}

TEST_CASE("FIRE bias is a function of log-distance normalised by the query position") {
  EncodingSpec spec = test::spec_of("fire", 32, 4, 16, 64);
  auto enc = make_encoding(spec);
  auto bias = enc->bias(0, 64, torch::kCPU);
  REQUIRE(bias.sizes() == torch::IntArrayRef({4, 64, 64}));
  // Inside the threshold (i < L) the normaliser is constant, so the bias depends on i-j only.
  CHECK(torch::allclose(bias.slice(1, 1, 16).slice(2, 1, 16), bias.slice(1, 0, 15).slice(2, 0, 15)));
  // The query at 2L with the key at distance 2L maps to the same MLP input (1.0) as query L at distance L.
  CHECK(bias[0][32][0].item<double>() == Approx(bias[0][16][0].item<double>()).epsilon(1e-5));
}

TEST_CASE("FIRE starts as the authors' module: c = 0.1, threshold = L x a learned multiplier that training moves") {
  EncodingSpec spec = test::spec_of("fire", 32, 4, 16, 64);
  auto enc = make_encoding(spec);
  CHECK(enc->inspect(16)["c"].get<double>() == Approx(0.1));
  CHECK(enc->inspect(16)["threshold"].get<double>() == Approx(16.0));
  auto params = enc->named_parameters();
  REQUIRE(params.contains("threshold_multiplier"));
  // Queries below the threshold get a gradient on the multiplier: Adam's lr-sized step moves a
  // multiplier of 1 by lr relatively (a threshold learned in tokens would move by lr tokens).
  enc->bias(0, 32, torch::kCPU).sum().backward();
  CHECK(params["threshold_multiplier"].grad().abs().item<double>() > 0);
  CHECK(params["c"].grad().abs().item<double>() > 0);
}

TEST_CASE("KERPLE keeps r1, r2 >= 0.01 by projecting the parameters, so their gradient survives") {
  EncodingSpec spec = test::spec_of("kerple", 32, 4, 16, 64);
  auto enc = make_encoding(spec);
  auto params = enc->named_parameters();
  {
    torch::NoGradGuard g;
    params["r1"].fill_(-1.0);  // as an optimizer step past zero would leave it
    params["r2"].fill_(0.5);
  }
  auto bias = enc->bias(0, 8, torch::kCPU);
  CHECK(params["r1"].min().item<double>() == Approx(0.01));  // projected in place
  CHECK(bias[0][5][1].item<double>() == Approx(-0.01 * std::log(1 + 0.5 * 4)));
  bias.sum().backward();
  CHECK(params["r1"].grad().abs().min().item<double>() > 0);  // a clamp at use would give 0 here
}

TEST_CASE("window and sinks: query i sees keys i-width+1..i and the first `sinks` tokens") {
  // width 3, sinks 1, T = 6: row 5 sees keys 0 (sink), 3, 4, 5; row 2 sees 0, 1, 2.
  EncodingSpec spec = test::spec_of("sinks", 32, 4, 16, 64);
  spec.options = {{"width", 3}, {"sinks", 1}};
  auto enc = make_encoding(spec);
  const auto visible = enc->inspect(6)["visible"];
  CHECK(visible[5] == nlohmann::json({1, 0, 0, 1, 1, 1}));
  CHECK(visible[2] == nlohmann::json({1, 1, 1, 1, 1, 1}));  // j > i: left to the causal mask
  auto bias = enc->bias(0, 6, torch::kCPU);
  REQUIRE(bias.sizes() == torch::IntArrayRef({1, 6, 6}));
  CHECK(std::isinf(bias[0][5][1].item<double>()));
  CHECK(bias[0][5][3].item<double>() == 0.0);
  // The plain window (no sinks) defaults to width L/2.
  EncodingSpec window = test::spec_of("window", 32, 4, 16, 64);
  auto w = make_encoding(window);
  CHECK(w->inspect(20)["width"] == 8);
  CHECK(w->inspect(20)["visible"][19][11] == 0);
  CHECK(w->inspect(20)["visible"][19][12] == 1);
  CHECK(w->notes() == "each query sees at most the last 8 tokens");
}

TEST_CASE("partial rotary rotates the first fraction of pairs with the frequencies of a smaller RoPE") {
  // head_dim 8, rotary_fraction 0.5: 2 of 4 pairs rotate, at base^(-2i/4) = 1 and 0.01; the rest 0.
  EncodingSpec spec = test::spec_of("rope", 16, 2, 16, 64);
  spec.options = {{"rotary_fraction", 0.5}};
  auto enc = make_encoding(spec);
  const auto inv = enc->inspect(16)["inv_freq"].get<std::vector<double>>();
  REQUIRE(inv.size() == 4);
  CHECK(inv[0] == Approx(1.0));
  CHECK(inv[1] == Approx(0.01));
  CHECK(inv[2] == 0.0);
  CHECK(inv[3] == 0.0);
  auto pos = enc->positions(16, torch::kCPU);
  CHECK(pos.cos.slice(1, 2).eq(1).all().item<bool>());  // unrotated pairs: identity
  CHECK(pos.sin.slice(1, 2).eq(0).all().item<bool>());
  spec.options = {{"rotary_fraction", 0.1}};  // 0.4 of a pair rounds to none
  CHECK_THROWS_WITH(make_encoding(spec), Catch::Contains("rotary_fraction"));
}

TEST_CASE("ReRoPE scores far pairs at the window's distance, leaky ReRoPE at w + (n - w) / s") {
  // head_dim 2: one pair at frequency 1, so q = k = (1, 0) scores cos(distance).
  EncodingSpec spec = test::spec_of("rope", 2, 1, 8, 16);
  auto enc = make_encoding(spec);
  const auto score = test::unit_pair_score;
  Scaling rerope;
  rerope.method = "rerope";
  rerope.options = {{"window", 2}};
  enc->set_scaling(rerope);
  auto pos = enc->positions(8, torch::kCPU);
  const auto far = far_pairs(pos, 0, 8, torch::kCPU);
  CHECK(!far[3][2].item<bool>());
  CHECK(far[3][1].item<bool>());
  CHECK(!far[1][3].item<bool>());  // above the diagonal: the causal mask's, never far
  CHECK(score(pos, 1, 0) == Approx(std::cos(1.0)));  // near: plain RoPE
  CHECK(score(pos, 6, 0) == Approx(std::cos(2.0)).margin(1e-6));  // far: clipped to w = 2
  CHECK(score(pos, 7, 3) == Approx(std::cos(2.0)).margin(1e-6));
  Scaling leaky;
  leaky.method = "leaky-rerope";
  leaky.factor = 4;
  leaky.options = {{"window", 2}};
  enc->set_scaling(leaky);
  pos = enc->positions(8, torch::kCPU);
  CHECK(score(pos, 6, 0) == Approx(std::cos(2.0 + 4.0 / 4)).margin(1e-6));  // 2 + (6 - 2) / 4
  CHECK(score(pos, 7, 1) == Approx(std::cos(3.0)).margin(1e-6));
  CHECK(score(pos, 7, 2) == Approx(std::cos(2.75)).margin(1e-6));
  CHECK_THAT(enc->notes(), Catch::Contains("two QK products"));
}

TEST_CASE("leaky ReRoPE at factor 1 is plain RoPE, and ReRoPE with a window past T never uses its far term") {
  auto model = test::tiny_model("rope", 8, 32);
  test::scramble_weights(model);
  model->eval();
  torch::NoGradGuard g;
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  auto plain = model->forward(tokens);
  Scaling leaky;
  leaky.method = "leaky-rerope";
  leaky.factor = 1;
  leaky.options = {{"window", 3}};
  model->encoding().set_scaling(validate_scaling(leaky));
  CHECK(torch::allclose(model->forward(tokens), plain, 1e-5, 1e-5));
  Scaling rerope;
  rerope.method = "rerope";
  rerope.options = {{"window", 24}};
  model->encoding().set_scaling(validate_scaling(rerope));
  CHECK(torch::allclose(model->forward(tokens), plain, 1e-5, 1e-5));
  rerope.options = {{"window", 4}};
  model->encoding().set_scaling(validate_scaling(rerope));
  auto clipped = model->forward(tokens);
  CHECK(torch::allclose(clipped.slice(1, 0, 4), plain.slice(1, 0, 4), 1e-5, 1e-5));  // no pair 4 apart yet
  CHECK(!torch::allclose(clipped.slice(1, 4), plain.slice(1, 4), 1e-3, 1e-3));
}

TEST_CASE("CoPE: positions are reverse cumulative sums of sigmoid gates, logits interpolated between learned vectors") {
  // One head, head_dim 2, npos_max 4. Query 0 scores key 0 at 0 (gate 1/2); query 1 scores keys
  // 0, 1 at ln 3 and 0 (gates 3/4, 1/2). Positions: p00 = 1/2, p10 = 3/4 + 1/2 = 5/4, p11 = 1/2.
  EncodingSpec spec = test::spec_of("cope", 2, 1, 8, 16);
  spec.options = {{"npos_max", 4}};
  auto enc = make_encoding(spec);
  {
    torch::NoGradGuard g;
    // e(p) = (p, 10 (p + 1)) at integer p, so interpolation gives the same line in between.
    enc->named_parameters()["pos_emb"].copy_(torch::tensor({0.f, 1.f, 2.f, 3.f, 10.f, 20.f, 30.f, 40.f}).view({1, 2, 4}));
  }
  const float inf = std::numeric_limits<float>::infinity();
  auto q = torch::tensor({1.f, 0.f, 0.f, 1.f}).view({1, 1, 2, 2});
  auto scores = torch::tensor({0.f, -inf, float(std::log(3.0)), 0.f}).view({1, 1, 2, 2});
  REQUIRE(enc->positions(2, torch::kCPU).contextual);
  auto extra = enc->contextual_logits(q, q, scores, 0, 0)[0][0];
  // The authors score the unscaled query: q here is scaled by 1/sqrt(2), so each term gains sqrt(2).
  CHECK(extra[0][0].item<double>() == Approx(0.5 * std::sqrt(2.0)));
  CHECK(extra[1][0].item<double>() == Approx(10 * 2.25 * std::sqrt(2.0)));
  CHECK(extra[1][1].item<double>() == Approx(10 * 1.5 * std::sqrt(2.0)));
  // Counts past npos_max - 1 are clamped there: 8 open gates count 3, not 8.
  auto open = torch::full({1, 1, 1, 8}, 50.f);
  CHECK(enc->contextual_logits(torch::tensor({1.f, 0.f}).view({1, 1, 1, 2}), {}, open, 0, 0)[0][0][0][0].item<double>() ==
        Approx(3 * std::sqrt(2.0)));
}

TEST_CASE("learned table: untrained rows past L are stated and too-long sequences fail clearly") {
  EncodingSpec spec = test::spec_of("learned", 32, 4, 16, 32);
  auto enc = make_encoding(spec);
  CHECK(enc->notes().find("16") != std::string::npos);
  CHECK_THROWS_WITH(enc->embed(torch::zeros({1, 40, 32})), Catch::Contains("32 rows"));
}

TEST_CASE("registry: unknown encodings and options are rejected with the allowed values") {
  EncodingSpec spec = test::spec_of("rotary", 32, 4, 16, 64);
  CHECK_THROWS_WITH(make_encoding(spec), Catch::Contains("allowed: nope, sinusoidal, learned, t5, rope, alibi"));
  EncodingSpec bad = test::spec_of("alibi", 32, 4, 16, 64, {{"base", 5}});
  CHECK_THROWS_WITH(make_encoding(bad), Catch::Contains("has no option \"base\""));
  CHECK_THROWS_WITH(make_encoding(test::spec_of("alibi", 30, 4, 16, 64)), Catch::Contains("divisible"));
}

TEST_CASE("only encodings whose registry entry takes scalings accept them") {
  Scaling pi;
  pi.method = "pi";
  CHECK(encodings_taking_scalings() == std::vector<std::string>{"rope", "xpos"});
  for (const auto& info : encoding_registry()) {
    INFO(info.name);
    auto encoding = make_encoding(test::spec_of(info.name, 32, 4, 16, 64));
    if (info.capabilities.takes_scalings)
      CHECK_NOTHROW(encoding->set_scaling(pi));
    else
      CHECK_THROWS_WITH(encoding->set_scaling(pi), Catch::Contains("needs an encoding that takes scalings (rope, xpos)"));
  }
}

TEST_CASE("the position-table cache slices prefix tables, rebuilds length-dependent ones, and never hands inference tensors to autograd") {
  PositionTableCache cache;
  int builds = 0;
  auto build = [&](int64_t n, torch::Device) {
    ++builds;
    return torch::arange(n, torch::kFloat32).view({1, n}).expand({2, n}).contiguous();
  };
  using R = PositionTableCache::Reuse;
  CHECK(cache.get(8, torch::kCPU, R::kSlicePrefix, {1}, build).size(1) == 8);
  CHECK(cache.get(4, torch::kCPU, R::kSlicePrefix, {1}, build).equal(torch::arange(4, torch::kFloat32).expand({2, 4})));
  CHECK(builds == 1);  // a shorter length is a slice of the longer table
  cache.get(16, torch::kCPU, R::kSlicePrefix, {1}, build);
  CHECK(builds == 2);  // a longer one is built
  cache.get(8, torch::kCPU, R::kExactLength, {1}, build);
  CHECK(builds == 3);  // length-dependent tables are built for exactly T
  cache.get(8, torch::kCPU, R::kExactLength, {1}, build);
  CHECK(builds == 3);
  {
    c10::InferenceMode guard;
    cache.clear();
    CHECK(cache.get(8, torch::kCPU, R::kSlicePrefix, {1}, build).is_inference());
  }
  CHECK(!cache.get(8, torch::kCPU, R::kSlicePrefix, {1}, build).is_inference());
  CHECK(builds == 5);
}

TEST_CASE("rope with factor \"auto\" builds its tables for each length, not a slice of a longer one") {
  auto plain = make_encoding(test::spec_of("rope", 64, 2, 16, 64));
  auto pi = make_encoding(test::spec_of("rope", 64, 2, 16, 64));
  Scaling s;
  s.method = "pi";
  pi->set_scaling(validate_scaling(s));
  const auto long_tables = pi->positions(64, torch::kCPU);  // s = 4
  const auto short_tables = pi->positions(16, torch::kCPU);  // s = 1: plain RoPE
  CHECK(torch::equal(short_tables.cos, plain->positions(16, torch::kCPU).cos));
  CHECK(!torch::equal(short_tables.cos, long_tables.cos.narrow(0, 0, 16)));
}
