#include "harness/model/attention.h"

#include <torch/version.h>
#include <atomic>
#include <cmath>
#include <limits>

#include "harness/model/kernels.h"
#include "harness/model/matmul.h"
#include "harness/model/precision.h"

namespace lb {

RotaryTables rotary_tables(const torch::Tensor& cos, const torch::Tensor& sin, const torch::Tensor& scale,
                           double multiplier) {
  auto c = torch::cat({cos, cos}, -1), s = torch::cat({-sin, sin}, -1);
  if (scale.defined()) {
    auto full_scale = torch::cat({scale, scale}, -1);
    c = c * full_scale;
    s = s * full_scale;
  }
  if (multiplier != 1.0) {
    c = c * multiplier;
    s = s * multiplier;
  }
  return {c, s};
}

torch::Tensor rotate(const torch::Tensor& x, const RotaryTables& t) {
  if (rotary_kernel_applies(x, t.c, t.s)) return rotary_kernel(x, t.c, t.s);
  auto xf = x.to(torch::kFloat32);
  auto swapped = torch::roll(xf, x.size(-1) / 2, -1);  // [x2, x1]
  return (xf * t.c).add_(swapped * t.s).to(x.scalar_type());
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           const torch::Tensor& scale) {
  return rotate(x, rotary_tables(cos, sin, scale));
}

namespace {

// 64 MiB: the quick model's evaluation at 4L (B = 32, H = 4, T = 512: 128 MiB in fp32) already
// takes blocks; training never does.
std::atomic<int64_t>& budget() {
  static std::atomic<int64_t> bytes{int64_t(64) << 20};
  return bytes;
}

// The mask of query rows [q0, q1) over keys [0, q1): -inf above the diagonal, plus the bias rows,
// in the dtype the scores come out of matmul in (autocast's when it is on), so the scores are
// never promoted to fp32.
torch::Tensor mask_rows(Encoding& encoding, PositionTableCache* causal, int64_t q0, int64_t q1, torch::Device device,
                        bool* biased = nullptr) {
  const auto build = [](int64_t a, int64_t b, torch::Device dev) {
    return torch::full({b - a, b}, -std::numeric_limits<float>::infinity(), torch::TensorOptions().device(dev))
        .triu(a + 1);
  };
  auto mask = causal ? causal->get(q1, device, PositionTableCache::Reuse::kSlicePrefix, {0, 1},
                                   [&](int64_t n, torch::Device dev) { return build(0, n, dev); })
                     : build(q0, q1, device);
  const auto bias = encoding.bias(q0, q1, device);
  if (bias.defined()) mask = bias + mask;
  if (biased) *biased = bias.defined();
  if (autocast_enabled(device)) mask = mask.to(autocast_dtype(device));
  return mask;
}

// Scores of queries qr [B, H, n, hd] (already rotated and scaled) against keys kr [B, H, m, hd],
// softmax, times v [B, H, m, hd].
torch::Tensor attend_rows(const torch::Tensor& qr, const torch::Tensor& kr, const torch::Tensor& qf,
                          const torch::Tensor& kf, const torch::Tensor& v, const torch::Tensor& mask,
                          const torch::Tensor& far, const AttentionInputs& in, int64_t layer) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // On CUDA, attention whose position information is a plain additive mask goes to torch's fused
  // kernels (flash or memory-efficient): q arrives scaled, hence scale 1. Causal without a bias
  // needs no mask at all. (torch >= 2.1; Debian's 1.13 has neither CUDA nor the function.)
  if (qr.is_cuda() && !far.defined() && !in.contextual) {
    if (in.plain_causal && qr.size(2) == kr.size(2))
      return at::scaled_dot_product_attention(qr, kr, v, c10::nullopt, 0.0, /*is_causal=*/true, 1.0);
    return at::scaled_dot_product_attention(qr, kr, v, mask.to(qr.scalar_type()), 0.0, false, 1.0);
  }
#endif
  auto scores = lb::matmul(qr, kr.transpose(-2, -1));
  if (far.defined())  // ReRoPE: far pairs are scored with the second rotation
    scores = torch::where(far, lb::matmul(qf, kf.transpose(-2, -1)), scores);
  scores.add_(mask);  // softmax accumulates in fp32 internally either way
  if (in.contextual) scores = scores + in.contextual->contextual_logits(qr, scores, layer).to(scores.scalar_type());
  return lb::matmul(torch::softmax(scores, -1), v);
}

}  // namespace

int64_t attention_score_budget() { return budget().load(); }

ScoreBudgetScope::ScoreBudgetScope(int64_t bytes) : previous_(budget().load()) { budget().store(bytes); }
ScoreBudgetScope::~ScoreBudgetScope() { budget().store(previous_); }

int64_t query_block_rows(int64_t B, int64_t heads, int64_t T, bool inference) {
  if (!inference) return 0;
  const double dense = 4.0 * double(B) * double(heads) * double(T) * double(T);
  if (dense <= double(attention_score_budget())) return 0;
  return std::clamp<int64_t>(attention_score_budget() / (4 * B * heads * T), 1, T);
}

AttentionInputs build_attention_inputs(Encoding& encoding, PositionTableCache& causal, int64_t B, int64_t T,
                                       int64_t heads, int64_t head_dim, torch::Device device) {
  const PositionInputs pos = encoding.positions(T, device);
  AttentionInputs in;
  in.q_scale = pos.logit_scale / std::sqrt(double(head_dim));
  if (pos.cos.defined()) {
    in.q = rotary_tables(pos.cos, pos.sin, pos.q_scale, in.q_scale);
    in.k = rotary_tables(pos.cos, pos.sin, pos.k_scale);
  }
  if (pos.far_window > 0) {
    in.q_far = rotary_tables(pos.far_q_cos, pos.far_q_sin, pos.q_scale, in.q_scale);
    in.k_far = rotary_tables(pos.far_k_cos, pos.far_k_sin, pos.k_scale);
  }
  if (pos.contextual) in.contextual = &encoding;
  in.block = query_block_rows(B, heads, T, c10::InferenceMode::is_enabled());
  if (in.block == 0) {
    bool biased = false;
    in.mask = mask_rows(encoding, &causal, 0, T, device, &biased);
    in.plain_causal = !biased;
    in.far = far_pairs(pos, 0, T, device);
  } else {
    in.rows = [&encoding, pos, device](int64_t q0, int64_t q1) {
      return std::make_pair(mask_rows(encoding, nullptr, q0, q1, device), far_pairs(pos, q0, q1, device));
    };
  }
  return in;
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const AttentionInputs& in,
                     int64_t layer) {
  // q carries the attention's scale (T x hd rather than the T x T scores), inside its rotary
  // tables when there are any.
  torch::Tensor qr, kr, qf, kf;
  if (in.q.c.defined()) {
    qr = rotate(q, in.q);
    kr = rotate(k, in.k);
    if (in.q_far.c.defined()) {
      qf = rotate(q, in.q_far);
      kf = rotate(k, in.k_far);
    }
  } else {
    qr = q * in.q_scale;
    kr = k;
  }
  if (in.block == 0) return attend_rows(qr, kr, qf, kf, v, in.mask, in.far, in, layer);
  const int64_t T = q.size(2);
  torch::Tensor out;
  for (int64_t q0 = 0; q0 < T; q0 += in.block) {
    const int64_t q1 = std::min(T, q0 + in.block), n = q1 - q0;
    const auto [mask, far] = in.rows(q0, q1);
    auto rows = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(2, q0, n) : t; };
    auto keys = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(2, 0, q1) : t; };
    auto o = attend_rows(rows(qr), keys(kr), rows(qf), keys(kf), keys(v), mask, far, in, layer);
    if (!out.defined()) out = torch::empty({q.size(0), q.size(1), T, v.size(3)}, o.options());
    out.narrow(2, q0, n).copy_(o);
  }
  return out;
}

}  // namespace lb
