// Inference-time RoPE extensions as a table of pure functions (HF's ROPE_INIT_FUNCTIONS in C++):
// each method is one function from (head_dim d, base, factor s, L, T, options) to inverse
// frequencies and an attention scale, plus one table line in rope_scaling.cpp naming it, its
// options with defaults, and how its factor is chosen. Torch-free: the rope encoding, `inspect`
// and the tests call the same functions.
//
// Conventions: s >= 1 is the extension ratio (never stored inverted); attention_scale multiplies
// q and k each, so the logits are scaled by its square.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/config/config.h"  // Scaling: a run's request

namespace lb {

struct RopeScalingArgs {
  int64_t head_dim = 0;
  double base = 10000.0;
  double factor = 1.0;        // s, already resolved by resolve_factor
  int64_t train_length = 0;   // L
  int64_t seq_length = 0;     // T
  const nlohmann::json& options;  // every option of the method, defaults filled
};

struct RopeFrequencies {
  std::vector<double> inv_freq;  // [d/2], radians per position
  double attention_scale = 1.0;  // multiplies q and k each
  double factor = 1.0;           // the s used
  // A second rotation for pairs at distance n = i - j >= rerope_window (0 = off): q at
  // floor(i/G) a + w - floor(w/G) a and k at floor(j/G) a, with a = rerope_far_scale and
  // G = far_group. ReRoPE (Su 2023; G = 1): distance w + (n - w) a (a = 0: every far key at w).
  // SelfExtend (Jin et al. 2024; a = 1): floor(i/G) - floor(j/G) + w - floor(w/G).
  int64_t rerope_window = 0;
  double rerope_far_scale = 0.0;
  int64_t far_group = 1;
  // LM-Infinite's Lambda mask (Han et al. 2024): query i sees keys j with i - j < mask_local or
  // j < mask_global; 0 = no mask.
  int64_t mask_local = 0, mask_global = 0;
  bool operator==(const RopeFrequencies& o) const {
    return inv_freq == o.inv_freq && attention_scale == o.attention_scale && rerope_window == o.rerope_window &&
           rerope_far_scale == o.rerope_far_scale && far_group == o.far_group && mask_local == o.mask_local &&
           mask_global == o.mask_global;
  }
};

using RopeScalingFn = RopeFrequencies (*)(const RopeScalingArgs&);

// How a method's factor s is chosen.
enum class FactorRule {
  kNone,       // no factor (plain RoPE); giving one is an error
  kGiven,      // a fixed number, or "auto" = max(1, T/L)
  kFromLength  // always max(1, T/L) from the sequence's own length; giving one is an error
};

struct ScalingMethod {
  std::string name;
  std::string description;
  nlohmann::json option_defaults;  // every option the method takes, with its default
  FactorRule factor_rule;
  RopeScalingFn compute;
  // The frequencies change with T even at a fixed factor (LongRoPE switches factor lists past L).
  bool always_per_length = false;
  // Scores some pairs with a second product (ReRoPE): needs softmax attention's scores.
  bool second_product = false;
};

const std::vector<ScalingMethod>& scaling_methods();
const ScalingMethod& scaling_method(const std::string& name);  // throws naming the allowed methods
std::vector<std::string> scaling_names();

// The one validation of a scaling: fills option defaults; rejects unknown methods
// (std::invalid_argument), and unknown or non-numeric options, a factor < 1, a factor given to a
// method that has none or computes its own, and a misplaced exact_chunk (OptionError, with the
// key). Messages name the allowed values.
Scaling validate_scaling(Scaling scaling);

// s for a sequence of length T (see FactorRule).
double resolve_factor(const Scaling& scaling, int64_t train_length, int64_t seq_length);
// Whether the frequencies change with the sequence length (factor "auto" or computed from T):
// then tables cannot be built once for the longest length and sliced.
bool depends_on_length(const Scaling& scaling);

// Exact dynamic mode: the ends of the prefixes a sequence of length T is scored with, for chunks
// of `chunk` tokens (0 = L/4). Chunks ending at or before L all have s = 1 and share one prefix;
// every later chunk gets its own, ending at min(T, chunk end).
std::vector<int64_t> exact_prefix_ends(int64_t seq_length, int64_t train_length, int64_t chunk);

RopeFrequencies rope_frequencies(int64_t head_dim, double base, const Scaling& scaling, int64_t train_length,
                                 int64_t seq_length);

// The paper quantities the methods are built from.
// base^(-2i/d), i = 0 .. d/2-1 (Su et al.).
std::vector<double> rope_inv_freq(int64_t head_dim, double base);
// YaRN's ramp over rotary dimensions: 0 up to the dimension turning beta_fast times over L
// (kept as trained), 1 from the one turning beta_slow times (fully interpolated).
std::vector<double> yarn_ramp(int64_t head_dim, double base, int64_t train_length, double beta_fast,
                              double beta_slow);
// YaRN's attention scale sqrt(1/t) = 0.1 m ln s + 1 (1 at s <= 1); m = 1 in the paper (HF's get_mscale).
double yarn_attention_scale(double s, double m = 1.0);
// HF's YaRN attention factor: attention_factor if > 0; else, when mscale and mscale_all_dim are
// both given (non-zero), yarn_attention_scale(s, mscale) / yarn_attention_scale(s, mscale_all_dim);
// else yarn_attention_scale(s).
double yarn_attention_factor(double s, double attention_factor, double mscale, double mscale_all_dim);
// p-RoPE (Barbero et al. 2025): of `pairs` frequencies ordered high to low, the lowest
// round((1 - p) pairs) set to 0 (those pairs carry no position).
void keep_highest_frequencies(std::vector<double>& inv_freq, size_t pairs, double p);
// Resonance RoPE (Wang et al. 2024): every wavelength 2 pi / theta rounded to the nearest integer
// (at least 1); zero frequencies stay zero.
void round_wavelengths(std::vector<double>& inv_freq);

}  // namespace lb
