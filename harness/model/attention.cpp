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
  // An inference-time window (and sinks) on a model trained without one.
  const InferenceAttention& inference = encoding.spec().inference;
  const bool windowed = inference.window > 0 && c10::InferenceMode::is_enabled();
  if (windowed) mask = mask + window_sinks_pattern(q0, q1, inference.window, inference.sinks)[0].to(device);
  if (biased) *biased = bias.defined() || windowed;
  if (autocast_enabled(device)) mask = mask.to(autocast_dtype(device));
  return mask;
}

// Scores of queries qr [B, H, n, hd] (already rotated and scaled; positions q0 .. q0 + n - 1)
// against keys kr [B, H, m, hd] (positions 0 .. m - 1), softmax, times v [B, H, m, hd].
torch::Tensor attend_rows(const torch::Tensor& qr, const torch::Tensor& kr, const torch::Tensor& qf,
                          const torch::Tensor& kf, const torch::Tensor& v, const torch::Tensor& mask,
                          const torch::Tensor& far, const AttentionInputs& in, int64_t layer, int64_t q0) {
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
  if (!in.contextual) return lb::matmul(torch::softmax(scores, -1), v);
  scores = scores + in.contextual->contextual_logits(qr, kr, scores, layer, q0).to(scores.scalar_type());
  const auto probs = torch::softmax(scores, -1);
  auto out = lb::matmul(probs, v);
  if (auto values = in.contextual->contextual_values(probs, layer, q0); values.defined())
    out = out + values.to(out.scalar_type());
  return out;
}

}  // namespace

torch::Tensor logn_scale(int64_t T, int64_t train_length, torch::Device device) {
  const auto count = torch::arange(1, T + 1, torch::kFloat64);
  return (count.log() / std::log(double(train_length))).clamp_min(1.0).to(torch::kFloat32).to(device);
}

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
                                       int64_t heads, int64_t head_dim, torch::Device device, AttentionKind kind) {
  const PositionInputs pos = encoding.positions(T, device);
  AttentionInputs in;
  if (kind == AttentionKind::kLinear) {  // no scale, no mask: phi(q), phi(k) and the rotation alone
    in.linear = true;
    if (pos.cos.defined()) {
      in.q = rotary_tables(pos.cos, pos.sin, pos.q_scale);
      in.k = rotary_tables(pos.cos, pos.sin, pos.k_scale);
    }
    return in;
  }
  in.q_scale = pos.logit_scale / std::sqrt(double(head_dim));
  if (pos.cos.defined()) {
    in.q = rotary_tables(pos.cos, pos.sin, pos.q_scale, in.q_scale);
    in.k = rotary_tables(pos.cos, pos.sin, pos.k_scale);
  }
  if (pos.far_window > 0) {
    in.q_far = rotary_tables(pos.far_q_cos, pos.far_q_sin, pos.q_scale, in.q_scale);
    in.k_far = rotary_tables(pos.far_k_cos, pos.far_k_sin, pos.k_scale);
  }
  // logN: each query row's logits times max(1, ln(p + 1) / ln L), inside q's tables when it rotates.
  if (encoding.spec().inference.logn && c10::InferenceMode::is_enabled()) {
    const auto rows = logn_scale(T, encoding.spec().train_length, device).unsqueeze(1);
    for (RotaryTables* t : {&in.q, &in.q_far})
      if (t->c.defined()) *t = {t->c * rows, t->s * rows};
    if (!in.q.c.defined()) in.q_rows = rows * in.q_scale;
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

torch::Tensor linear_attention(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c,
                               const torch::Tensor& d, const torch::Tensor& v, int64_t chunk) {
  const int64_t T = a.size(2);
  const auto f32 = [](const torch::Tensor& t) { return t.to(torch::kFloat32); };
  auto S = torch::zeros({a.size(0), a.size(1), b.size(3), v.size(3)}, a.options().dtype(torch::kFloat32));
  auto z = torch::zeros({a.size(0), a.size(1), d.size(3)}, a.options().dtype(torch::kFloat32));
  std::vector<torch::Tensor> parts;
  for (int64_t c0 = 0; c0 < T; c0 += chunk) {
    const int64_t n = std::min(chunk, T - c0);
    auto ac = f32(a.narrow(2, c0, n)), bc = f32(b.narrow(2, c0, n)), cc = f32(c.narrow(2, c0, n)),
         dc = f32(d.narrow(2, c0, n)), vc = f32(v.narrow(2, c0, n));
    auto causal = torch::ones({n, n}, ac.options()).tril();
    auto numerator = torch::matmul(torch::matmul(ac, bc.transpose(-2, -1)) * causal, vc) + torch::matmul(ac, S);
    auto denominator = (torch::matmul(cc, dc.transpose(-2, -1)) * causal).sum(-1) +
                       torch::matmul(cc, z.unsqueeze(-1)).squeeze(-1);
    parts.push_back(numerator / (denominator.unsqueeze(-1) + 1e-6));
    S = S + torch::matmul(bc.transpose(-2, -1), vc);
    z = z + dc.sum(2);
  }
  return torch::cat(parts, 2).to(v.scalar_type());
}

namespace {

RotaryTables rows_of(const RotaryTables& t, int64_t first, int64_t n) {
  if (!t.c.defined()) return t;
  return {t.c.narrow(0, first, n), t.s.narrow(0, first, n)};
}

}  // namespace

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const AttentionInputs& in,
                     int64_t layer, int64_t first) {
  const int64_t Tq = q.size(2);
  if (in.linear) {
    auto phi = [](const torch::Tensor& x) { return torch::elu(x.to(torch::kFloat32)) + 1; };
    const auto pq = phi(q), pk = phi(k);
    const auto rq = in.q.c.defined() ? rotate(pq, rows_of(in.q, first, Tq)) : pq;
    const auto rk = in.k.c.defined() ? rotate(pk, in.k) : pk;
    if (first == 0) return linear_attention(rq, rk, pq, pk, v);
    // A memory of earlier keys: the first `first` keys only feed the running sums.
    return linear_attention(torch::cat({torch::zeros_like(rk.narrow(2, 0, first)), rq}, 2), rk,
                            torch::cat({torch::zeros_like(pk.narrow(2, 0, first)), pq}, 2), pk, v)
        .narrow(2, first, Tq);
  }
  // q carries the attention's scale (T x hd rather than the T x T scores), inside its rotary
  // tables when there are any.
  torch::Tensor qr, kr, qf, kf;
  if (in.q.c.defined()) {
    qr = rotate(q, rows_of(in.q, first, Tq));
    kr = rotate(k, in.k);
    if (in.q_far.c.defined()) {
      qf = rotate(q, rows_of(in.q_far, first, Tq));
      kf = rotate(k, in.k_far);
    }
  } else {
    qr = in.q_rows.defined() ? q * in.q_rows.narrow(0, first, Tq).to(q.scalar_type()) : q * in.q_scale;
    kr = k;
  }
  if (in.block == 0) {
    const auto rows = [&](const torch::Tensor& t) { return t.defined() && first > 0 ? t.narrow(-2, first, Tq) : t; };
    return attend_rows(qr, kr, qf, kf, v, rows(in.mask), rows(in.far), in, layer, first);
  }
  torch::Tensor out;
  for (int64_t r0 = 0; r0 < Tq; r0 += in.block) {
    const int64_t n = std::min(in.block, Tq - r0), q0 = first + r0, q1 = q0 + n;
    const auto [mask, far] = in.rows(q0, q1);
    auto rows = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(2, r0, n) : t; };
    auto keys = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(2, 0, q1) : t; };
    auto o = attend_rows(rows(qr), keys(kr), rows(qf), keys(kf), keys(v), mask, far, in, layer, q0);
    if (!out.defined()) out = torch::empty({q.size(0), q.size(1), Tq, v.size(3)}, o.options());
    out.narrow(2, r0, n).copy_(o);
  }
  return out;
}

}  // namespace lb
