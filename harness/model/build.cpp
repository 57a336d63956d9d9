#include "harness/model/build.h"

namespace lb {

EncodingSpec encoding_spec(const Config& c, const RunSpec& run, int64_t max_length) {
  EncodingSpec spec;
  spec.name = run.encoding;
  spec.d_model = c.model.d_model;
  spec.heads = c.model.heads;
  spec.train_length = c.train.length;
  spec.max_length = max_length;
  spec.layers = c.model.layers;
  spec.embedding_std = c.model.embedding_std;
  spec.options = run.encoding_options;
  spec.inference = run.inference;
  return spec;
}

ModelConfig model_config(const Config& c, const RunSpec& run, int64_t vocab) {
  ModelConfig mc = c.model;
  mc.vocab = vocab;
  mc.attention = run.attention;
  return mc;
}

GPT build_model(const Config& c, const RunSpec& run, int64_t vocab, int64_t max_length, uint64_t seed) {
  torch::manual_seed(seed);
  return GPT(model_config(c, run, vocab), make_encoding(encoding_spec(c, run, max_length)));
}

double non_embedding_parameters(const Config& c, const std::string& encoding, int64_t max_length) {
  const double C = double(c.model.d_model);
  double p = double(c.model.layers) * ((4.0 + 2.0 * double(c.model.mlp_ratio)) * C * C + 4.0 * C) + 2.0 * C;
  const auto& caps = encoding_info(encoding).capabilities;
  if (caps.learned_positions && caps.kind == PositionKind::kAbsolute) p += double(max_length) * C;
  return p;
}

}  // namespace lb
