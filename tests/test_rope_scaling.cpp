// RoPE extensions against hand-derived values (head_dim 8 or 32, base 10000).
#include <cmath>

#include "encodings/rope_scaling.h"
#include "tests/helpers.h"

using namespace lb;
using test::to_vector;

static Scaling scaling(const std::string& method, std::optional<double> factor = std::nullopt) {
  Scaling s;
  s.method = method;
  s.factor = factor;
  return validate_scaling(s);
}

TEST_CASE("every scaling at factor 1 equals plain RoPE") {
  auto plain = rope_frequencies(32, 10000, scaling("none"), 128, 128);
  for (const std::string m : {"pi", "ntk", "dynamic-ntk", "yarn", "llama3"}) {
    INFO(m);
    auto f = rope_frequencies(32, 10000, scaling(m, 1.0), 128, 128);
    CHECK(torch::allclose(f.inv_freq, plain.inv_freq, 0, 1e-7));
    CHECK(f.attention_scale == 1.0);
    // "auto" at T <= L resolves to s = 1 as well.
    auto a = rope_frequencies(32, 10000, scaling(m), 128, 100);
    CHECK(torch::allclose(a.inv_freq, plain.inv_freq, 0, 1e-7));
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
  auto got = to_vector(f.inv_freq);
  for (int i = 0; i < 4; ++i) CHECK(got[i] == Approx(want[i]));
}

TEST_CASE("NTK-aware raises the base to base * s^(d/(d-2))") {
  // d=8, s=4: base' = 10000 * 4^(4/3); inv_1 = base'^(-1/4) = 1/(10 * 4^(1/3)),
  // inv_3 = base'^(-3/4) = 1/(1000 * 4) exactly.
  auto got = to_vector(rope_frequencies(8, 10000, scaling("ntk", 4.0), 128, 512).inv_freq);
  CHECK(got[0] == Approx(1.0));
  CHECK(got[1] == Approx(1.0 / (10.0 * std::cbrt(4.0))));
  CHECK(got[3] == Approx(0.00025));
  // The lowest frequency is interpolated exactly like PI; the highest is untouched.
  auto pi = to_vector(rope_frequencies(8, 10000, scaling("pi", 4.0), 128, 512).inv_freq);
  CHECK(got[3] == Approx(pi[3]));
}

TEST_CASE("dynamic NTK recomputes s = max(1, T/L) from the sequence length") {
  auto dyn = rope_frequencies(32, 10000, scaling("dynamic-ntk"), 128, 384);
  auto ntk3 = rope_frequencies(32, 10000, scaling("ntk", 3.0), 128, 384);
  CHECK(dyn.factor == 3.0);
  CHECK(torch::allclose(dyn.inv_freq, ntk3.inv_freq));
  // A fixed factor is ignored: the method is defined by the sequence length.
  CHECK(rope_frequencies(32, 10000, scaling("dynamic-ntk", 8.0), 128, 256).factor == 2.0);
}

TEST_CASE("YaRN ramp: 0 up to the beta_fast dimension, 1 from the beta_slow dimension") {
  // d=32, L=128: dim(r) = 32 ln(128 / (2 pi r)) / (2 ln 10000); dim(32) = -0.78 -> low 0,
  // dim(1) = 5.24 -> high 6. The ramp is i / 6 on [0, 6].
  auto ramp = to_vector(yarn_ramp(32, 10000, 128, 32, 1));
  REQUIRE(ramp.size() == 16);
  CHECK(ramp[0] == 0.0);
  CHECK(ramp[3] == Approx(0.5));
  CHECK(ramp[6] == 1.0);
  CHECK(ramp[15] == 1.0);
}

TEST_CASE("YaRN keeps high frequencies, interpolates low ones, and scales attention by 0.1 ln s + 1") {
  auto f = rope_frequencies(32, 10000, scaling("yarn", 4.0), 128, 512);
  auto plain = to_vector(rope_inv_freq(32, 10000));
  auto got = to_vector(f.inv_freq);
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
  auto plain = to_vector(rope_inv_freq(32, 10000));
  auto got = to_vector(f.inv_freq);
  CHECK(got[0] == Approx(plain[0]));
  CHECK(got[15] == Approx(plain[15] / 8));
  // i = 5: wavelength 111.7 is in the band; smooth = (128/wavelength - 1) / (4 - 1).
  const double wavelength = 2 * M_PI * std::pow(10000.0, 5.0 / 16);
  const double smooth = (128 / wavelength - 1) / 3;
  CHECK(got[5] == Approx((1 - smooth) * plain[5] / 8 + smooth * plain[5]));
}

TEST_CASE("scaling validation names the allowed values") {
  CHECK_THROWS_WITH(scaling("linear"), Catch::Contains("allowed: none, pi, ntk, dynamic-ntk, yarn, llama3"));
  CHECK_THROWS_WITH(scaling("pi", 0.5), Catch::Contains(">= 1"));
  Scaling s;
  s.method = "pi";
  s.options = {{"beta_fast", 16}};
  CHECK_THROWS_WITH(validate_scaling(s), Catch::Contains("no option \"beta_fast\""));
}
