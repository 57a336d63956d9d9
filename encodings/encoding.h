// The positional-encoding plug-in interface and its registry.
//
// An encoding may (a) add position information to the token embeddings, (b) hand the attention
// layers rotary tables (cos/sin, optional per-position q/k scales) and/or (c) an additive
// attention bias. The model calls these hooks; it never branches on an encoding's name, and the
// harness reads what an encoding can do from its registry entry (EncodingCapabilities).
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "encodings/registry.h"
#include "encodings/rope_scaling.h"

namespace lb {

// Everything attention needs to know about positions for sequences of length T that grows only
// linearly with T (the [T, T] bias comes from Encoding::bias, by rows). Built once per forward pass
// and shared by every layer (never recomputed per layer).
struct PositionInputs {
  int64_t length = 0;
  torch::Tensor cos, sin;          // [T, head_dim/2] fp32 rotary tables; undefined if no rotation
  torch::Tensor q_scale, k_scale;  // [T, head_dim/2] fp32 per-position scales (xPos); optional
  double logit_scale = 1.0;        // multiplies q.k / sqrt(head_dim) (YaRN's temperature)
  // A second rotation whose scores replace the first for pairs at distance >= far_window
  // (ReRoPE): q and k rotated at their own positions [T, head_dim/2] each. far_window 0: none.
  torch::Tensor far_q_cos, far_q_sin, far_k_cos, far_k_sin;
  int64_t far_window = 0;
  // The encoding adds contextual_logits() to every layer's scores (CoPE).
  bool contextual = false;
};

// [q1 - q0, q1] bool: which of query rows [q0, q1) and keys [0, q1) ReRoPE scores with its second
// rotation (distance i - j >= far_window). Undefined when far_window is 0.
torch::Tensor far_pairs(const PositionInputs& pos, int64_t q0, int64_t q1, torch::Device device);

// What an encoding is built from: the model's shape and the run entry's encoding options. Built
// from the parsed config by encoding_spec() (harness/model/build.h) and nowhere else; it has no
// defaults of its own.
struct EncodingSpec {
  std::string name;
  int64_t d_model = 0;
  int64_t heads = 0;
  int64_t train_length = 0;
  int64_t max_length = 0;  // longest sequence evaluated (sizes tables such as `learned`)
  nlohmann::json options = nlohmann::json::object();
  int64_t layers = 0;      // for encodings with per-layer parameters (CoPE)
  double embedding_std = 0.02;  // the token embedding's init std (absolute tables match its scale)
  InferenceAttention inference;  // the run's inference-time logN and window (harness/config/config.h)
  int64_t head_dim() const { return d_model / heads; }
};

class Encoding : public torch::nn::Module {
 public:
  explicit Encoding(EncodingSpec spec) : spec_(std::move(spec)) {}
  ~Encoding() override = default;

  // x: token embeddings [B, T, C]. Absolute encodings add to them; others return x.
  virtual torch::Tensor embed(const torch::Tensor& x) { return x; }
  // Rotary tables (and what else grows linearly with T) for sequences of length T.
  // The default: the length only (encodings whose positions live in a bias, the embeddings or
  // nowhere); rotary and contextual encodings override it.
  virtual PositionInputs positions(int64_t T, torch::Device) {
    PositionInputs in;
    in.length = T;
    return in;
  }
  // The additive attention bias of query rows [q0, q1) over keys [0, q1), causal mask not
  // included: [H or 1, q1 - q0, q1] fp32, or undefined for encodings without one. Relative: a
  // row depends on its query position, never on T. The model asks for every row at once where the
  // scores fit in memory and for blocks of rows past that, so evaluation memory stays linear in T.
  virtual torch::Tensor bias(int64_t q0, int64_t q1, torch::Device device) { return {}; }
  // Inference-time extension; encodings whose registry entry takes scalings override it.
  virtual void set_scaling(const Scaling& scaling);
  // The run's inference-time logN and window (a trained model is shared by the runs that differ
  // only in these, like scalings).
  void set_inference(const InferenceAttention& inference) { spec_.inference = inference; }
  // The encoding's numbers for `lengthbench inspect`, at sequence length T.
  virtual nlohmann::json inspect(int64_t T) = 0;
  // Absolute tables: grow the rows trained at positions < trained to positions < target by
  // `rule` ("copy" or "interpolate", FinetuneConfig::extend) before fine-tuning at target.
  virtual void extend_positions(int64_t trained, int64_t target, const std::string& rule);
  // What happens past the training length, when the method has a rule worth stating.
  virtual std::string notes() const { return ""; }
  // Content-dependent logits added to layer `layer`'s attention scores, for encodings whose
  // positions() sets `contextual`. q: [B, H, Tq, hd] as scored (rotated, scaled by the attention's
  // 1/sqrt(hd)) at positions first_query .. first_query + Tq - 1; k: [B, H, Tk, hd] as scored
  // (rotated, unscaled) at positions 0 .. Tk - 1; scores: [B, H, Tq, Tk] with the causal mask
  // already in (-inf where a key lies after its query). -> [B, H, Tq, Tk].
  virtual torch::Tensor contextual_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& scores,
                                          int64_t layer, int64_t first_query) {
    return {};
  }
  // Added to the attention's output for encodings whose positions() sets `contextual` and that
  // carry position information on the value side (Shaw et al.'s a^V): probs [B, H, Tq, Tk] (the
  // attention weights) -> [B, H, Tq, hd], or undefined.
  virtual torch::Tensor contextual_values(const torch::Tensor& probs, int64_t layer, int64_t first_query) {
    return {};
  }
  // Segment recurrence (Transformer-XL): tokens of memory each layer keeps from earlier segments
  // (0: none), and consecutive segments of L per training window.
  virtual int64_t memory_length() const { return 0; }
  virtual int64_t train_segments() const { return 1; }
  // Exact dynamic mode: score queries in chunks of this many tokens, each on its own prefix (see
  // Scaling::exact_chunk); 0 = the whole sequence at once.
  virtual int64_t rescale_chunk() const { return 0; }

  const EncodingSpec& spec() const { return spec_; }
  const nlohmann::json& option(const std::string& key) const { return spec_.options.at(key); }

 protected:
  EncodingSpec spec_;
};

// Fills option defaults, rejects unknown options, and builds the encoding.
std::shared_ptr<Encoding> make_encoding(EncodingSpec spec);

// Helper shared by the relative encodings: [q1 - q0, q1] fp32 distance i - j of query i in
// [q0, q1) and key j in [0, q1), clamped at 0 (the causal mask hides the rest); [T, T] for (0, T).
torch::Tensor relative_distance(int64_t q0, int64_t q1, torch::Device device);
inline torch::Tensor relative_distance(int64_t T, torch::Device device) { return relative_distance(0, T, device); }

// [1, q1 - q0, q1] fp32 on the CPU: 0 where query i in [q0, q1) sees key j (i - j < width, or
// j < sinks), -inf elsewhere; causality is the model's. Sliding windows, attention sinks and
// LM-Infinite's Lambda mask, whether trained or applied at inference.
torch::Tensor window_sinks_pattern(int64_t q0, int64_t q1, int64_t width, int64_t sinks);

// The one cache for the position tables encodings (and the model's causal mask) build per
// forward pass. Tables whose entries for positions < T do not depend on T (distances, ALiBi's
// bias, sinusoids, RoPE at a fixed factor) are built once for the longest length seen and sliced;
// tables that depend on T itself (RoPE with factor "auto", xPos's centred scales) are rebuilt
// whenever T changes. A table is also rebuilt for another device, and a table made under
// InferenceMode is never handed to code that records gradients (it could not be saved for backward).
class PositionTableCache {
 public:
  enum class Reuse { kSlicePrefix, kExactLength };
  using Builder = std::function<torch::Tensor(int64_t T, torch::Device device)>;
  // position_dims: the dimensions indexed by position, sliced to T on the way out.
  torch::Tensor get(int64_t T, torch::Device device, Reuse reuse, const std::vector<int64_t>& position_dims,
                    const Builder& build);
  void clear() { table_ = torch::Tensor(); }

 private:
  torch::Tensor table_;
  int64_t built_for_ = 0;
};

}  // namespace lb
