// The encoding registry: names, descriptions, capabilities and options of every encoding, and
// the factory that builds each. Torch-free, so configuration and listings need no model code.
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <vector>

namespace lb {

class Encoding;
struct EncodingSpec;

// What kind of position information an encoding carries, for validation, `list` and reports.
enum class PositionKind { kNone, kAbsolute, kRelative };

struct EncodingCapabilities {
  PositionKind kind = PositionKind::kNone;
  bool takes_scalings = false;     // rotary: accepts the inference-time RoPE scalings
  bool learned_positions = false;  // has trained position parameters
  bool score_terms = false;        // adds to the attention scores (a bias or contextual logits): needs softmax attention
  bool memory = false;             // can carry a memory of earlier segments (the recurrent protocol)
};

struct EncodingInfo {
  std::string name;
  std::string description;
  EncodingCapabilities capabilities;
  nlohmann::json option_defaults;  // every option the encoding accepts, with its default
  std::shared_ptr<Encoding> (*make)(const EncodingSpec&);
};

const std::vector<EncodingInfo>& encoding_registry();
const EncodingInfo& encoding_info(const std::string& name);  // throws naming the allowed names
std::vector<std::string> encoding_names();
std::vector<std::string> encodings_taking_scalings();
const char* position_kind_name(PositionKind kind);

}  // namespace lb
