// The positional-encoding plug-in interface and its registry.
//
// An encoding may (a) add position information to the token embeddings, (b) hand the attention
// layers rotary tables (cos/sin, optional per-position q/k scales) and/or (c) an additive
// attention bias. The model calls these hooks; it never branches on an encoding's name.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lb {

// Everything attention needs to know about positions for sequences of length T. Built once per
// forward pass and shared by every layer (never recomputed per layer).
struct PositionInputs {
  int64_t length = 0;
  torch::Tensor cos, sin;          // [T, head_dim/2] fp32 rotary tables; undefined if no rotation
  torch::Tensor q_scale, k_scale;  // [T, head_dim/2] fp32 per-position scales (xPos); optional
  torch::Tensor bias;              // [H, T, T] fp32 additive bias (causal mask not included)
  double logit_scale = 1.0;        // multiplies q.k / sqrt(head_dim) (YaRN's temperature)
};

// What an encoding is built from: the model's shape and the run entry's encoding options.
struct EncodingSpec {
  std::string name;
  int64_t d_model = 128;
  int64_t heads = 4;
  int64_t train_length = 128;
  int64_t max_length = 512;  // longest sequence evaluated (sizes tables such as `learned`)
  nlohmann::json options = nlohmann::json::object();
  int64_t head_dim() const { return d_model / heads; }
};

// An inference-time RoPE extension: method and factor s (nullopt = "auto": eval length / L).
struct Scaling {
  std::string method = "none";
  std::optional<double> factor;
  nlohmann::json options = nlohmann::json::object();  // e.g. beta_fast, beta_slow
};

class Encoding : public torch::nn::Module {
 public:
  explicit Encoding(EncodingSpec spec) : spec_(std::move(spec)) {}
  ~Encoding() override = default;

  // x: token embeddings [B, T, C]. Absolute encodings add to them; others return x.
  virtual torch::Tensor embed(const torch::Tensor& x) { return x; }
  // Rotary tables and/or attention bias for sequences of length T.
  virtual PositionInputs positions(int64_t T, torch::Device device) = 0;
  // Inference-time extension; only rotary encodings accept anything but "none".
  virtual void set_scaling(const Scaling& scaling);
  virtual bool accepts_scalings() const { return false; }
  // The encoding's numbers for `lengthbench inspect`, at sequence length T.
  virtual nlohmann::json inspect(int64_t T) = 0;
  // What happens past the training length, when the method has a rule worth stating.
  virtual std::string notes() const { return ""; }

  const EncodingSpec& spec() const { return spec_; }
  const nlohmann::json& option(const std::string& key) const { return spec_.options.at(key); }

 protected:
  EncodingSpec spec_;
};

struct EncodingInfo {
  std::string name;
  std::string description;
  nlohmann::json option_defaults;  // every option the encoding accepts, with its default
  std::function<std::shared_ptr<Encoding>(const EncodingSpec&)> make;
};

const std::vector<EncodingInfo>& encoding_registry();
const EncodingInfo& encoding_info(const std::string& name);  // throws naming the allowed names
// Fills option defaults, rejects unknown options, and builds the encoding.
std::shared_ptr<Encoding> make_encoding(EncodingSpec spec);
std::vector<std::string> encoding_names();

// Helpers shared by several encodings.
torch::Tensor relative_distance(int64_t T, torch::Device device);  // [T,T] i-j, clamped at 0
torch::Tensor slice_square(const torch::Tensor& bias, int64_t T);  // [H,N,N] -> [H,T,T]

}  // namespace lb
