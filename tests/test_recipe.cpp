// The recipe around the encoding (model.tie_embeddings, model.embedding_std): an untied head is
// its own parameter and the logits use it; the token embedding starts at the stated std; the
// sinusoidal table is scaled by that std unless the run sets "scale".
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "harness/model/build.h"
#include "tests/helpers.h"

using namespace lb;

namespace {

GPT recipe_model(const std::string& encoding, bool tie, double std, const nlohmann::json& options = nlohmann::json::object()) {
  Config c = test::tiny_config(encoding, 16, 32, 4, 1, options);
  c.model.tie_embeddings = tie;
  c.model.embedding_std = std;
  return build_model(c, c.runs[0], 256, 64, 5);
}

}  // namespace

TEST_CASE("an untied output head is its own parameter, and the logits are x . head, not x . wte") {
  auto tied = recipe_model("rope", true, 0.02), untied = recipe_model("rope", false, 0.02);
  CHECK(tied->named_parameters().find("head") == nullptr);
  REQUIRE(untied->named_parameters().find("head") != nullptr);
  CHECK(untied->named_parameters()["head"].sizes() == untied->named_parameters()["wte.weight"].sizes());
  untied->eval();
  torch::NoGradGuard g;
  const auto tokens = torch::randint(0, 256, {2, 16}, torch::kLong);
  const auto before = untied->forward(tokens);
  // Zeroing the head zeroes the logits (the embedding still feeds the input); zeroing wte's
  // contribution to the output is impossible when tied.
  untied->named_parameters()["head"].zero_();
  CHECK(untied->forward(tokens).abs().max().item<double>() == 0.0);
  CHECK(before.abs().max().item<double>() > 0.0);
}

TEST_CASE("the token embedding starts at model.embedding_std, and the sinusoidal table follows it") {
  for (double std : {0.02, 1.0}) {
    INFO(std);
    auto model = recipe_model("nope", true, std);
    const double measured = model->named_parameters()["wte.weight"].std().item<double>();
    CHECK(measured == Approx(std).epsilon(0.05));  // 8,192 draws: the std is within ~2%
  }
  // sinusoidal adds table * embedding_std (scale 0), or table * scale when the run sets it.
  torch::NoGradGuard g;
  const auto x = torch::zeros({1, 8, 32});
  auto embed = [&](const nlohmann::json& options) {
    return make_encoding(test::spec_of("sinusoidal", 32, 4, 16, 64, options))->embed(x);  // spec: std 0.02
  };
  const auto unit = embed({{"scale", 1.0}});
  CHECK(torch::allclose(embed(nlohmann::json::object()), unit * 0.02));
  Config c = test::tiny_config("sinusoidal", 16, 32, 4, 1);
  c.model.embedding_std = 1.0;
  const auto matched = make_encoding(encoding_spec(c, c.runs[0], 64))->embed(x);
  CHECK(torch::allclose(matched, unit));  // N(0, 1) embeddings: the table unscaled, as Vaswani et al.
}
