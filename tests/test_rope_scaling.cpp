// RoPE extensions against hand-derived values (head_dim 8 or 32, base 10000) and against constants
// computed independently from the published definitions by tests/derive/rope_scaling_constants.py.
#include <cmath>

#include "encodings/rope_scaling.h"
#include "tests/helpers.h"

using namespace lb;

namespace {

// Pasted output of `python3 tests/derive/rope_scaling_constants.py`.
// YaRN, D = 64, base 10000, L = 256, s = 8, beta_fast 32, beta_slow 1; attention scale 1.2079441541679836
const std::vector<double> kYarnD64L256S8 = {
    1, 0.69942056062738678, 0.48664153141472516, 0.33654624792858001,
    0.23108952131999697, 0.15733152470255213, 0.10601281098308964, 0.070522768047098866,
    0.046153846153846156, 0.029563137098683353, 0.018384235631222951, 0.010947889992857424,
    0.0060813031926314973, 0.0029642171320770692, 0.0022228492625486537, 0.0016669017902041551,
    0.00125, 0.00093736776166556974, 0.00070292665648793637, 0.00052712062928572786,
    0.00039528470752104742, 0.00029642171320770692, 0.00022228492625486534, 0.00016669017902041551,
    0.000125, 9.3736776166556982e-05, 7.0292665648793637e-05, 5.271206292857278e-05,
    3.9528470752104742e-05, 2.9642171320770692e-05, 2.2228492625486534e-05, 1.6669017902041549e-05};
// YaRN, same with beta_fast 16, beta_slow 2
const std::vector<double> kYarnD64L256S8Beta16x2 = {
    1, 0.74989420933245587, 0.56234132519034907, 0.42169650342858223,
    0.28164035410874627, 0.18526357075481684, 0.11947814786199014, 0.075010580559186982,
    0.045312500000000006, 0.02577761344580317, 0.013179874809148808, 0.005271206292857278,
    0.0039528470752104739, 0.0029642171320770692, 0.0022228492625486537, 0.0016669017902041551,
    0.00125, 0.00093736776166556974, 0.00070292665648793637, 0.00052712062928572786,
    0.00039528470752104742, 0.00029642171320770692, 0.00022228492625486534, 0.00016669017902041551,
    0.000125, 9.3736776166556982e-05, 7.0292665648793637e-05, 5.271206292857278e-05,
    3.9528470752104742e-05, 2.9642171320770692e-05, 2.2228492625486534e-05, 1.6669017902041549e-05};
// Llama 3.1, D = 64, base 10000, L = 512, s = 8, low 1, high 4
const std::vector<double> kLlama3D64L512S8 = {
    1, 0.74989420933245587, 0.56234132519034907, 0.42169650342858223,
    0.31622776601683794, 0.23713737056616552, 0.17782794100389229, 0.1333521432163324,
    0.10000000000000001, 0.074989420933245579, 0.056234132519034911, 0.035236337383254566,
    0.018496675401442404, 0.0094129544641583032, 0.0045520299908718611, 0.0020039255237675542,
    0.00125, 0.00093736776166556974, 0.00070292665648793637, 0.00052712062928572786,
    0.00039528470752104742, 0.00029642171320770692, 0.00022228492625486534, 0.00016669017902041551,
    0.000125, 9.3736776166556982e-05, 7.0292665648793637e-05, 5.271206292857278e-05,
    3.9528470752104742e-05, 2.9642171320770692e-05, 2.2228492625486534e-05, 1.6669017902041549e-05};
// Llama 3.1, D = 64, base 500000, L = 1024, s = 4, low 1, high 8
const std::vector<double> kLlama3D64Base5e5L1024S4 = {
    1, 0.66360123769608848, 0.44036660267178046, 0.29222782257301511,
    0.19392274474868576, 0.12868737343265052, 0.085397100285765609, 0.05666962144529105,
    0.03006668051900404, 0.014439643180852226, 0.0071545811179810096, 0.0036787619800824974,
    0.0019704672568495009, 0.0012098553364299732, 0.00080286149868814773, 0.00053277988422799133,
    0.00035355339059327376, 0.00023461846758934506, 0.000155693105478649, 0.00010331813749637913,
    6.8562043919051825e-05, 4.5497857203656366e-05, 3.0192434352866261e-05, 2.0035736805619948e-05,
    1.3295739742362471e-05, 8.8230693491168083e-06, 5.8549997403523354e-06, 3.885385074408086e-06,
    2.5783463443031149e-06, 1.7109938252887319e-06, 1.1354176201519674e-06, 7.534645380347928e-07};

// Relative agreement required with the constants (double arithmetic in both; rounding only).
constexpr double kConstantRtol = 1e-12;

void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]) / std::abs(want[i]));
  INFO("max relative |diff| = " << worst << " (rtol " << kConstantRtol << ")");
  CHECK(worst <= kConstantRtol);
}

}  // namespace

static Scaling scaling(const std::string& method, std::optional<double> factor = std::nullopt) {
  Scaling s;
  s.method = method;
  s.factor = factor;
  return validate_scaling(s);
}

TEST_CASE("every scaling at factor 1 equals plain RoPE") {
  auto plain = rope_frequencies(32, 10000, scaling("none"), 128, 128);
  for (const std::string& m : scaling_names()) {  // every entry of the table
    INFO(m);
    // ABF has no factor: it replaces the base (at the model's own base it is plain RoPE, tested
    // in test_seeds_systems.cpp).
    if (m == "abf") continue;
    if (scaling_method(m).factor_rule == FactorRule::kGiven) {
      auto f = rope_frequencies(32, 10000, scaling(m, 1.0), 128, 128);
      CHECK(f.inv_freq == plain.inv_freq);
      CHECK(f.attention_scale == 1.0);
    }
    // "auto" (and dynamic-ntk's own factor) at T <= L resolves to s = 1 as well.
    auto a = rope_frequencies(32, 10000, scaling(m), 128, 100);
    CHECK(a.factor == 1.0);
    CHECK(a.inv_freq == plain.inv_freq);
  }
}

TEST_CASE("a scaled rope encoding at factor 1 gives the same tables as plain rope") {
  auto plain = make_encoding({"rope", 64, 2, 16, 64});
  auto pi = make_encoding({"rope", 64, 2, 16, 64});
  pi->set_scaling(scaling("pi", 1.0));
  auto a = plain->positions(48, torch::kCPU), b = pi->positions(48, torch::kCPU);
  CHECK(torch::equal(a.cos, b.cos));
  CHECK(torch::equal(a.sin, b.sin));
}

TEST_CASE("PI divides every frequency by s") {
  auto f = rope_frequencies(8, 10000, scaling("pi", 2.0), 128, 256);
  std::vector<double> want = {0.5, 0.05, 0.005, 0.0005};
  for (int i = 0; i < 4; ++i) CHECK(f.inv_freq[i] == Approx(want[i]));
}

TEST_CASE("PI equals plain RoPE evaluated at positions / s") {
  // The rotary tables of a PI model at integer position p must be plain RoPE's angles at the
  // fractional position p / s, computed here straight from theta_i = base^(-2i/d).
  const double s = 4.0, base = 10000.0;
  const int64_t d = 16, T = 64;
  auto pi = make_encoding({"rope", 4 * d, 4, 16, T});
  pi->set_scaling(scaling("pi", s));
  const auto tables = pi->positions(T, torch::kCPU);
  double worst = 0;
  for (int64_t p = 0; p < T; ++p)
    for (int64_t i = 0; i < d / 2; ++i) {
      const double angle = (double(p) / s) * std::pow(base, -2.0 * double(i) / double(d));
      worst = std::max({worst, std::abs(tables.cos[p][i].item<double>() - std::cos(angle)),
                        std::abs(tables.sin[p][i].item<double>() - std::sin(angle))});
    }
  INFO("max |diff| = " << worst << " (fp32 tables, atol 1e-6)");
  CHECK(worst < 1e-6);
}

TEST_CASE("NTK-aware raises the base to base * s^(d/(d-2))") {
  // d=8, s=4: base' = 10000 * 4^(4/3); inv_1 = base'^(-1/4) = 1/(10 * 4^(1/3)),
  // inv_3 = base'^(-3/4) = 1/(1000 * 4) exactly.
  auto got = rope_frequencies(8, 10000, scaling("ntk", 4.0), 128, 512).inv_freq;
  CHECK(got[0] == Approx(1.0));
  CHECK(got[1] == Approx(1.0 / (10.0 * std::cbrt(4.0))));
  CHECK(got[3] == Approx(0.00025));
  // The lowest frequency is interpolated exactly like PI; the highest is untouched.
  auto pi = rope_frequencies(8, 10000, scaling("pi", 4.0), 128, 512).inv_freq;
  CHECK(got[3] == Approx(pi[3]));
}

TEST_CASE("dynamic NTK recomputes s = max(1, T/L) from the sequence length") {
  auto dyn = rope_frequencies(32, 10000, scaling("dynamic-ntk"), 128, 384);
  auto ntk3 = rope_frequencies(32, 10000, scaling("ntk", 3.0), 128, 384);
  CHECK(dyn.factor == 3.0);
  CHECK(dyn.inv_freq == ntk3.inv_freq);
  CHECK(depends_on_length(scaling("dynamic-ntk")));
  CHECK(!depends_on_length(scaling("ntk", 3.0)));
  CHECK(depends_on_length(scaling("ntk")));  // "auto"
  // The method defines its own factor, so one given by the user is an error, not ignored.
  CHECK_THROWS_WITH(scaling("dynamic-ntk", 8.0), Catch::Contains("computes its own factor"));
  CHECK_THROWS_WITH(scaling("none", 2.0), Catch::Contains("takes no factor"));
}

TEST_CASE("YaRN ramp: 0 up to the beta_fast dimension, 1 from the beta_slow dimension") {
  // d=32, L=128: dim(r) = 32 ln(128 / (2 pi r)) / (2 ln 10000); dim(32) = -0.78 -> low 0,
  // dim(1) = 5.24 -> high 6. The ramp is i / 6 on [0, 6].
  auto ramp = yarn_ramp(32, 10000, 128, 32, 1);
  REQUIRE(ramp.size() == 16);
  CHECK(ramp[0] == 0.0);
  CHECK(ramp[3] == Approx(0.5));
  CHECK(ramp[6] == 1.0);
  CHECK(ramp[15] == 1.0);
}

TEST_CASE("YaRN keeps high frequencies, interpolates low ones, and scales attention by 0.1 ln s + 1") {
  auto f = rope_frequencies(32, 10000, scaling("yarn", 4.0), 128, 512);
  auto plain = rope_inv_freq(32, 10000);
  auto got = f.inv_freq;
  CHECK(got[0] == Approx(plain[0]));
  CHECK(got[3] == Approx(plain[3] * (0.5 + 0.5 / 4)));
  CHECK(got[10] == Approx(plain[10] / 4));
  CHECK(f.attention_scale == Approx(0.1 * std::log(4.0) + 1));
  auto enc = make_encoding({"rope", 128, 4, 128, 512});
  enc->set_scaling(scaling("yarn", 4.0));
  CHECK(enc->positions(512, torch::kCPU).logit_scale == Approx(std::pow(0.1 * std::log(4.0) + 1, 2)));
}

TEST_CASE("Llama 3 scaling: short wavelengths kept, long ones divided by s, a smooth band between") {
  // d=32, L=128: wavelength_i = 2 pi 10000^(i/16); high band < 32, low band > 128.
  auto f = rope_frequencies(32, 10000, scaling("llama3", 8.0), 128, 1024);
  auto plain = rope_inv_freq(32, 10000);
  auto got = f.inv_freq;
  CHECK(got[0] == Approx(plain[0]));
  CHECK(got[15] == Approx(plain[15] / 8));
  // i = 5: wavelength 111.7 is in the band; smooth = (128/wavelength - 1) / (4 - 1).
  const double wavelength = 2 * M_PI * std::pow(10000.0, 5.0 / 16);
  const double smooth = (128 / wavelength - 1) / 3;
  CHECK(got[5] == Approx((1 - smooth) * plain[5] / 8 + smooth * plain[5]));
}

TEST_CASE("YaRN matches constants derived independently from the reference definition") {
  auto f = rope_frequencies(64, 10000, scaling("yarn", 8.0), 256, 2048);
  check_close(f.inv_freq, kYarnD64L256S8);
  CHECK(f.attention_scale == Approx(1.2079441541679836).epsilon(1e-14));
  Scaling custom;
  custom.method = "yarn";
  custom.factor = 8.0;
  custom.options = {{"beta_fast", 16}, {"beta_slow", 2}};
  check_close(rope_frequencies(64, 10000, validate_scaling(custom), 256, 2048).inv_freq, kYarnD64L256S8Beta16x2);
}

TEST_CASE("NTK-by-parts is YaRN's frequencies without its attention scale") {
  auto f = rope_frequencies(64, 10000, scaling("ntk-by-parts", 8.0), 256, 2048);
  check_close(f.inv_freq, kYarnD64L256S8);
  CHECK(f.attention_scale == 1.0);
  auto enc = make_encoding({"rope", 256, 4, 256, 2048});
  enc->set_scaling(scaling("ntk-by-parts", 8.0));
  CHECK(enc->positions(2048, torch::kCPU).logit_scale == 1.0);
}

TEST_CASE("Llama 3 matches constants derived independently from Meta's definition") {
  check_close(rope_frequencies(64, 10000, scaling("llama3", 8.0), 512, 4096).inv_freq, kLlama3D64L512S8);
  Scaling custom;
  custom.method = "llama3";
  custom.factor = 4.0;
  custom.options = {{"low_freq_factor", 1}, {"high_freq_factor", 8}};
  check_close(rope_frequencies(64, 500000, validate_scaling(custom), 1024, 4096).inv_freq, kLlama3D64Base5e5L1024S4);
}

TEST_CASE("LongRoPE divides each frequency by its rescale factor: short lists up to L, long ones past it") {
  // head_dim 8, base 10000: plain [1, 0.1, 0.01, 0.001]; s = 4, L = 128.
  Scaling s;
  s.method = "longrope";
  s.factor = 4.0;
  s.options = {{"short_factor", {1, 1, 2, 2}}, {"long_factor", {1, 2, 4, 8}}};
  s = validate_scaling(s);
  const auto at_l = rope_frequencies(8, 10000, s, 128, 128), past = rope_frequencies(8, 10000, s, 128, 512);
  check_close(at_l.inv_freq, {1, 0.1, 0.005, 0.0005});
  check_close(past.inv_freq, {1, 0.05, 0.0025, 0.000125});
  // attention factor sqrt(1 + ln 4 / ln 128) = sqrt(1 + 2/7) = 1.1338934
  CHECK(past.attention_scale == Approx(std::sqrt(1.0 + 2.0 / 7.0)));
  s.options["attention_factor"] = 1.5;
  CHECK(rope_frequencies(8, 10000, s, 128, 512).attention_scale == 1.5);
  CHECK(depends_on_length(s));  // the list switches at L even with a fixed factor
  s.options["long_factor"] = {1, 2};
  CHECK_THROWS_WITH(rope_frequencies(8, 10000, s, 128, 512), Catch::Contains("one entry per rotated dimension pair (4)"));
  Scaling bad;
  bad.method = "longrope";
  bad.options = {{"long_factor", 2}};
  CHECK_THROWS_WITH(validate_scaling(bad), Catch::Contains("must be a list of numbers"));
}

TEST_CASE("ReRoPE keeps RoPE's frequencies and sets the window (L/2 by default) and the far compression") {
  Scaling s;
  s.method = "rerope";
  s = validate_scaling(s);
  auto f = rope_frequencies(8, 10000, s, 128, 512);
  CHECK(f.inv_freq == rope_inv_freq(8, 10000));
  CHECK(f.rerope_window == 64);
  CHECK(f.rerope_far_scale == 0.0);
  Scaling leaky;
  leaky.method = "leaky-rerope";
  leaky.factor = 8;
  leaky.options = {{"window", 32}};
  f = rope_frequencies(8, 10000, validate_scaling(leaky), 128, 512);
  CHECK(f.rerope_window == 32);
  CHECK(f.rerope_far_scale == 0.125);
  s.factor = 2;
  CHECK_THROWS_WITH(validate_scaling(s), Catch::Contains("takes no factor"));
}

TEST_CASE("exact dynamic mode: one prefix for every chunk up to L, then one per chunk") {
  // L = 8, chunk 2: chunks ending 2, 4, 6, 8 all have s = 1 (one prefix of 8); then 10, 12, 13.
  CHECK(exact_prefix_ends(13, 8, 2) == std::vector<int64_t>{8, 10, 12, 13});
  CHECK(exact_prefix_ends(6, 8, 2) == std::vector<int64_t>{6});
  CHECK(exact_prefix_ends(32, 16, 0) == std::vector<int64_t>{16, 20, 24, 28, 32});  // 0 = L/4
  CHECK(exact_prefix_ends(20, 8, 12) == std::vector<int64_t>{12, 20});  // a first chunk past L is its own
  Scaling fixed;
  fixed.method = "ntk";
  fixed.factor = 4;
  fixed.exact_chunk = 8;
  CHECK_THROWS_WITH(validate_scaling(fixed), Catch::Contains("factor follows the length"));
  fixed.factor.reset();  // "auto": s = T/L, so the exact mode applies
  CHECK_NOTHROW(validate_scaling(fixed));
}

TEST_CASE("scaling validation names the allowed values") {
  CHECK_THROWS_WITH(scaling("linear"), Catch::Contains("allowed: none, pi, ntk, dynamic-ntk, yarn, ntk-by-parts, llama3, longrope, abf, rerope, leaky-rerope"));
  CHECK_THROWS_WITH(scaling("pi", 0.5), Catch::Contains(">= 1"));
  Scaling s;
  s.method = "pi";
  s.options = {{"beta_fast", 16}};
  CHECK_THROWS_WITH(validate_scaling(s), Catch::Contains("no option \"beta_fast\""));
}
