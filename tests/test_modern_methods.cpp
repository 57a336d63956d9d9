// The 2024-2026 methods (issue "methods researchers compare"): p-RoPE, Resonance RoPE, YaRN's
// attention-factor overrides, SelfExtend, LM-Infinite, dynamic scaling as a KV-cache decoder
// applies it, logN attention scaling and inference-time windows. Each against values derived by
// hand from its paper's definition, plus the property that defines it.
#include <cmath>

#include "encodings/encoding.h"
#include "encodings/rope_scaling.h"
#include "harness/model/attention.h"
#include "harness/run/config_load.h"
#include "tests/helpers.h"

using namespace lb;
using nlohmann::json;

namespace {

std::vector<double> inv_freq_of(const std::string& encoding, const json& options, int64_t d_model = 16, int64_t heads = 2) {
  EncodingSpec spec = test::spec_of(encoding, d_model, heads, 16, 64);
  spec.options = options;
  return make_encoding(spec)->inspect(16)["inv_freq"].get<std::vector<double>>();
}

Scaling scaling_of(const std::string& method, const json& options = json::object(), std::optional<double> factor = {}) {
  Scaling s;
  s.method = method;
  s.options = options;
  s.factor = factor;
  return validate_scaling(s);
}

// Two models built the runner's way with the same seed (the encodings here have no parameters, so
// the weights are equal), scrambled so positions visibly move the logits.
GPT model_of(const std::string& encoding, const json& options = json::object(), InferenceAttention inference = {},
             int64_t L = 8) {
  Config c = test::tiny_config(encoding, L, 32, 4, 2, options);
  c.runs[0].inference = inference;
  auto model = build_model(c, c.runs[0], 256, 64, 7);
  test::scramble_weights(model);
  model->eval();
  return model;
}

torch::Tensor logits(GPT& model, const torch::Tensor& tokens) {
  c10::InferenceMode guard;
  return model->forward(tokens);
}

bool same(const torch::Tensor& a, const torch::Tensor& b) { return torch::allclose(a, b, 1e-5, 1e-5); }

}  // namespace

TEST_CASE("p-RoPE keeps the highest fraction p of the frequencies, partial rotary keeps the range on fewer pairs") {
  // head_dim 8, base 10000: frequencies 10000^(-2i/8) = 1, 0.1, 0.01, 0.001.
  const auto full = inv_freq_of("rope", json::object());
  CHECK(full == std::vector<double>{1.0, std::pow(10000.0, -0.25), std::pow(10000.0, -0.5), std::pow(10000.0, -0.75)});
  const auto p75 = inv_freq_of("rope", {{"p", 0.75}});  // round(0.25 * 4) = 1 frequency removed: the lowest
  CHECK(p75 == std::vector<double>{full[0], full[1], full[2], 0.0});
  const auto p50 = inv_freq_of("rope", {{"p", 0.5}});
  CHECK(p50 == std::vector<double>{full[0], full[1], 0.0, 0.0});
  // rotary_fraction 0.5: 2 pairs at the frequencies of a 4-dim RoPE, 1 and 0.01 (the whole range).
  const auto partial = inv_freq_of("rope", {{"rotary_fraction", 0.5}});
  CHECK(partial[1] == Approx(0.01));
  CHECK(partial[1] != p50[1]);
  // The defining ends: p = 1 is RoPE, p = 0 is NoPE (no pair rotates).
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  auto rope = model_of("rope"), p1 = model_of("rope", {{"p", 1.0}}), p0 = model_of("rope", {{"p", 0.0}});
  auto nope = model_of("nope");
  CHECK(same(logits(p1, tokens), logits(rope, tokens)));
  CHECK(same(logits(p0, tokens), logits(nope, tokens)));
  CHECK(!same(logits(p0, tokens), logits(rope, tokens)));
}

TEST_CASE("Resonance RoPE rounds every wavelength to an integer, so each rotated pair repeats exactly") {
  // 2 pi / 1 = 6.283 -> 6; 2 pi / 0.1 = 62.83 -> 63; 2 pi / 0.01 = 628.3 -> 628; 2 pi / 0.001 -> 6283.
  const auto inv = inv_freq_of("rope", {{"resonance", 1}});
  CHECK(inv[0] == Approx(2 * M_PI / 6));
  CHECK(inv[1] == Approx(2 * M_PI / 63));
  CHECK(inv[2] == Approx(2 * M_PI / 628));
  CHECK(inv[3] == Approx(2 * M_PI / 6283));
  EncodingSpec spec = test::spec_of("rope", 16, 2, 16, 128);
  spec.options = {{"resonance", 1}};
  auto pos = make_encoding(spec)->positions(70, torch::kCPU);
  // Position 6 is position 0 again on pair 0, position 63 on pair 1 (plain RoPE's pair 0 is not).
  CHECK(pos.cos[6][0].item<double>() == Approx(1.0).margin(1e-6));
  CHECK(pos.sin[63][1].item<double>() == Approx(0.0).margin(1e-5));
  CHECK(std::abs(std::cos(6.0) - 1.0) > 0.03);
  // With p-RoPE it composes: rounded, then the lowest removed.
  CHECK(inv_freq_of("rope", {{"resonance", 1}, {"p", 0.5}}) == std::vector<double>{inv[0], inv[1], 0.0, 0.0});
}

TEST_CASE("YaRN's attention factor follows HF: attention_factor, else mscale / mscale_all_dim, else 0.1 ln s + 1") {
  const double ln8 = std::log(8.0);
  auto scale = [&](const json& options) {
    return rope_frequencies(32, 10000.0, scaling_of("yarn", options, 8.0), 256, 2048).attention_scale;
  };
  CHECK(scale(json::object()) == Approx(0.1 * ln8 + 1));
  CHECK(scale({{"attention_factor", 1.5}}) == 1.5);
  CHECK(scale({{"mscale", 1.0}, {"mscale_all_dim", 1.0}}) == Approx(1.0));
  CHECK(scale({{"mscale", 2.0}, {"mscale_all_dim", 1.0}}) == Approx((0.2 * ln8 + 1) / (0.1 * ln8 + 1)));
  CHECK(scale({{"mscale", 2.0}}) == Approx(0.1 * ln8 + 1));  // HF ignores mscale without mscale_all_dim
  CHECK(yarn_attention_factor(1.0, 0.0, 2.0, 1.0) == 1.0);  // 1 at s <= 1
}

TEST_CASE("SelfExtend: plain RoPE inside the neighbour window, floor-divided positions past it") {
  EncodingSpec spec = test::spec_of("rope", 2, 1, 8, 16);
  auto enc = make_encoding(spec);
  enc->set_scaling(scaling_of("self-extend", {{"group_size", 2}, {"window_size", 2}}));
  auto pos = enc->positions(8, torch::kCPU);
  const auto score = test::unit_pair_score;
  // Near (i - j < 2): the distance itself. Far: floor(i/2) - floor(j/2) + 2 - floor(2/2).
  CHECK(score(pos, 3, 2) == Approx(std::cos(1.0)));
  CHECK(score(pos, 6, 0) == Approx(std::cos(3.0 - 0 + 1)).margin(1e-6));
  CHECK(score(pos, 7, 2) == Approx(std::cos(3.0 - 1 + 1)).margin(1e-6));
  CHECK(score(pos, 5, 3) == Approx(std::cos(2.0 - 1 + 1)).margin(1e-6));
  CHECK_THAT(enc->notes(), Catch::Contains("grouped") && Catch::Contains("T = 14"));  // (8 - 2) 2 + 2
  // Defining property: with the window past T, or with groups of 1, it is plain RoPE.
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  auto model = model_of("rope");
  const auto plain = logits(model, tokens);
  model->encoding().set_scaling(scaling_of("self-extend", {{"group_size", 4}, {"window_size", 24}}));
  CHECK(same(logits(model, tokens), plain));
  model->encoding().set_scaling(scaling_of("self-extend", {{"group_size", 1}, {"window_size", 3}}));
  CHECK(same(logits(model, tokens), plain));
  model->encoding().set_scaling(scaling_of("self-extend", {{"group_size", 4}, {"window_size", 4}}));
  const auto grouped = logits(model, tokens);
  CHECK(same(grouped.slice(1, 0, 4), plain.slice(1, 0, 4)));  // no pair 4 apart yet
  CHECK(!same(grouped.slice(1, 4), plain.slice(1, 4)));
}

TEST_CASE("LM-Infinite: a Lambda mask of the first n_global and last n_local tokens, distances capped") {
  EncodingSpec spec = test::spec_of("rope", 2, 1, 8, 16);
  auto enc = make_encoding(spec);
  enc->set_scaling(scaling_of("lm-infinite", {{"n_global", 1}, {"n_local", 3}, {"cap", 3}}));
  const auto bias = enc->bias(0, 8, torch::kCPU)[0];
  auto visible = [&](int64_t i, int64_t j) { return bias[i][j].item<float>() == 0; };
  CHECK(visible(7, 0));  // a global token
  CHECK(!visible(7, 1));
  CHECK(!visible(7, 4));
  CHECK(visible(7, 5));
  CHECK(visible(7, 7));
  CHECK(torch::equal(enc->bias(5, 8, torch::kCPU), bias.slice(0, 5, 8).unsqueeze(0)));  // blocks of rows agree
  auto pos = enc->positions(8, torch::kCPU);
  CHECK(test::unit_pair_score(pos, 7, 0) == Approx(std::cos(3.0)).margin(1e-6));  // 7 capped at 3
  CHECK(test::unit_pair_score(pos, 7, 5) == Approx(std::cos(2.0)).margin(1e-6));
  // With the mask and the cap past T it is plain RoPE.
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  auto model = model_of("rope");
  const auto plain = logits(model, tokens);
  model->encoding().set_scaling(scaling_of("lm-infinite", {{"n_local", 24}, {"cap", 24}}));
  CHECK(same(logits(model, tokens), plain));
  model->encoding().set_scaling(scaling_of("lm-infinite", {{"n_global", 2}, {"n_local", 4}, {"cap", 4}}));
  CHECK(!same(logits(model, tokens).slice(1, 4), plain.slice(1, 4)));
}

TEST_CASE("kv_cache: each position rotated once at s = (p + 1) / L, equal to the per-window mode within L") {
  // head_dim 4, base 10000, L = 4; dynamic NTK at row p >= L uses base (s^(4/2)) with s = (p + 1) / 4.
  EncodingSpec spec = test::spec_of("rope", 4, 1, 4, 16);
  auto enc = make_encoding(spec);
  Scaling s;
  s.method = "dynamic-ntk";
  s.kv_cache = true;
  enc->set_scaling(validate_scaling(s));
  auto pos = enc->positions(8, torch::kCPU);
  for (int64_t p : {2, 5, 7}) {
    const double factor = std::max(1.0, (p + 1) / 4.0);
    const double slow = std::pow(10000.0 * factor * factor, -0.5);  // the second pair's frequency
    CHECK(std::atan2(pos.sin[p][1].item<double>(), pos.cos[p][1].item<double>()) == Approx(p * slow).epsilon(1e-5));
  }
  // Row 7 is the per-window mode's row 7 at T = 8; row 5 is not (the window mode uses s = 2 there).
  auto window = make_encoding(spec);
  window->set_scaling(scaling_of("dynamic-ntk"));
  auto w8 = window->positions(8, torch::kCPU);
  CHECK(torch::allclose(pos.cos[7], w8.cos[7], 1e-6, 1e-6));
  CHECK(!torch::allclose(pos.cos[5], w8.cos[5], 1e-4, 1e-4));
  // YaRN with factor auto carries each row's attention scale 0.1 ln s + 1 on q and k.
  auto yarn = make_encoding(spec);
  Scaling y;
  y.method = "yarn";
  y.kv_cache = true;
  yarn->set_scaling(validate_scaling(y));
  auto yp = yarn->positions(8, torch::kCPU);
  CHECK(yp.q_scale[7][0].item<double>() == Approx(0.1 * std::log(2.0) + 1));
  CHECK(yp.k_scale[3][0].item<double>() == Approx(1.0));
  CHECK(yp.logit_scale == 1.0);
  // The defining property on a model: within L it is the exact dynamic computation; past L not.
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  auto model = model_of("rope");
  model->encoding().set_scaling(scaling_of("dynamic-ntk"));
  const auto short_window = logits(model, tokens.slice(1, 0, 8)), long_window = logits(model, tokens);
  model->encoding().set_scaling(validate_scaling(s));
  CHECK(same(logits(model, tokens.slice(1, 0, 8)), short_window));
  const auto cached = logits(model, tokens);
  CHECK(!same(cached.slice(1, 8), long_window.slice(1, 8)));
  CHECK(same(cached.slice(1, 0, 8), short_window));  // causal: a row never sees a later s
}

TEST_CASE("logN scales the logits of the query at p by max(1, ln(p + 1) / ln L): 1 up to L") {
  const auto scale = test::to_vector(logn_scale(8, 4, torch::kCPU));
  const std::vector<double> want = {1, 1, 1, 1, std::log(5.0) / std::log(4.0), std::log(6.0) / std::log(4.0),
                                    std::log(7.0) / std::log(4.0), 1.5};
  REQUIRE(scale.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(scale[i] == Approx(want[i]).epsilon(1e-6));
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  for (const std::string encoding : {"rope", "alibi"}) {  // inside the rotary tables, and on q without them
    InferenceAttention logn;
    logn.logn = true;
    auto plain = model_of(encoding), scaled = model_of(encoding, json::object(), logn);
    const auto a = logits(plain, tokens), b = logits(scaled, tokens);
    CHECK(same(a.slice(1, 0, 8), b.slice(1, 0, 8)));
    CHECK(!same(a.slice(1, 8), b.slice(1, 8)));
    CHECK(same(plain->forward(tokens), scaled->forward(tokens)));  // training never sees it
  }
  // By hand: one head, hd 1, q = k = 1 at every position, NoPE: the query at p scores each key
  // at logn(p) / sqrt(1), so the attention stays uniform and only the scale in q moves.
  EncodingSpec spec = test::spec_of("nope", 1, 1, 4, 16);
  spec.inference.logn = true;
  auto nope = make_encoding(spec);
  PositionTableCache causal;
  c10::InferenceMode guard;
  auto in = build_attention_inputs(*nope, causal, 1, 8, 1, 1, torch::kCPU);
  REQUIRE(in.q_rows.defined());
  CHECK(test::to_vector(in.q_rows.squeeze(1)) == test::to_vector(logn_scale(8, 4, torch::kCPU)));
}

TEST_CASE("eval_window and eval_sinks mask a fully trained model at inference only, as the trained window would") {
  InferenceAttention windowed;
  windowed.window = 4;
  windowed.sinks = 1;
  auto full = model_of("nope", json::object(), windowed);
  auto trained_window = model_of("sinks", {{"width", 4}, {"sinks", 1}});
  auto plain = model_of("nope");
  auto tokens = torch::randint(256, {2, 24}, torch::kInt64);
  CHECK(same(logits(full, tokens), logits(trained_window, tokens)));
  CHECK(same(full->forward(tokens), plain->forward(tokens)));  // not in training
  CHECK(same(logits(full, tokens).slice(1, 0, 4), logits(plain, tokens).slice(1, 0, 4)));
  ScoreBudgetScope blocks(1 << 10);  // the same under query blocks
  CHECK(same(logits(full, tokens), logits(trained_window, tokens)));
}

TEST_CASE("bad options of the 2024-2026 methods are one config error naming the key, before training") {
  auto with_run = [](json run) {
    return json{{"model", {{"layers", 1}, {"d_model", 32}, {"heads", 2}}}, {"train", {{"length", 16}}},
                {"eval", {{"lengths", {1, 4}}}}, {"runs", json::array({run})}};
  };
  auto fails = [&](json run, const std::string& key, const std::string& says) {
    CHECK_THROWS_WITH(parse_config(with_run(run)), Catch::Contains("runs[0]." + key) && Catch::Contains(says));
  };
  fails({{"encoding", "rope"}, {"p", 1.5}}, "p", "[0, 1]");
  fails({{"encoding", "rope"}, {"resonance", 2}}, "resonance", "0 or 1");
  fails({{"encoding", "rope"}, {"scaling", "self-extend"}, {"group_size", 0}}, "group_size", "integer >= 1");
  fails({{"encoding", "rope"}, {"scaling", "self-extend"}, {"group_size", 1.5}}, "group_size", "integer >= 1");
  fails({{"encoding", "rope"}, {"scaling", "self-extend"}, {"window_size", 64}}, "window_size", "longest evaluated length (64)");
  fails({{"encoding", "rope"}, {"scaling", "lm-infinite"}, {"n_local", -1}}, "n_local", ">= 0");
  fails({{"encoding", "rope"}, {"scaling", "yarn"}, {"factor", 4}, {"mscale", -1}}, "mscale", ">= 0");
  fails({{"encoding", "rope"}, {"scaling", "ntk"}, {"factor", 4}, {"kv_cache", true}}, "kv_cache", "follows the length");
  fails({{"encoding", "rope"}, {"scaling", "dynamic-ntk"}, {"kv_cache", true}, {"exact_chunk", 4}}, "kv_cache", "give one");
  fails({{"encoding", "rope"}, {"scaling", "leaky-rerope"}, {"kv_cache", true}}, "kv_cache", "one rotation");
  fails({{"encoding", "rope"}, {"kv_cache", 1}}, "kv_cache", "true or false");
  fails({{"encoding", "nope"}, {"eval_sinks", 2}}, "eval_sinks", "eval_window");
  fails({{"encoding", "nope"}, {"eval_window", -3}}, "eval_window", ">= 0");
  fails({{"encoding", "rope"}, {"attention", "linear"}, {"logn", true}}, "logn", "softmax");
  CHECK_NOTHROW(parse_config(with_run({{"encoding", "rope"}, {"scaling", "dynamic-ntk"}, {"kv_cache", true}})));
  CHECK_NOTHROW(parse_config(with_run({{"encoding", "alibi"}, {"logn", true}, {"eval_window", 8}, {"eval_sinks", 2}})));
}

TEST_CASE("claims between a run and its inference-time variant are tautologies exactly where the variant is the identity") {
  auto side = [](const std::string& run, double length) { return json{{"run", run}, {"length", length}}; };
  json user = {{"eval", {{"lengths", {1, 2}}}},
               {"runs", {{{"encoding", "rope"}, {"scaling", "dynamic-ntk"}},
                         {{"name", "cached"}, {"encoding", "rope"}, {"scaling", "dynamic-ntk"}, {"kv_cache", true}},
                         {{"name", "logn"}, {"encoding", "rope"}, {"logn", true}},
                         {{"encoding", "rope"}}}}};
  auto claim = [&](const std::string& left, const std::string& right, double length) {
    return json{{"claim", "c"}, {"left", side(left, length)}, {"op", "~"}, {"right", side(right, length)},
                {"tolerance", 0.01}};
  };
  for (const auto& [left, right] : {std::pair{"cached", "rope+dynamic-ntk"}, std::pair{"logn", "rope"}}) {
    user["claims"] = {claim(left, right, 1)};
    CHECK_THROWS_WITH(parse_config(user), Catch::Contains("cannot fail"));
    user["claims"] = {claim(left, right, 2)};
    CHECK_NOTHROW(parse_config(user));
  }
}
