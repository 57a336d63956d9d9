#include "harness/model/matmul.h"
#include "harness/model/precision.h"
#include "harness/model/kernels.h"
#include "tests/helpers.h"

using namespace lb;

namespace {

// Forward values and the gradients of both inputs under a random upstream gradient, against the
// same products taken in float64 by libtorch.
void check_against_float64(const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& ours,
                           torch::Tensor a, torch::Tensor b) {
  auto a64 = a.detach().to(torch::kFloat64).requires_grad_(), b64 = b.detach().to(torch::kFloat64).requires_grad_();
  a.requires_grad_();
  b.requires_grad_();
  auto out = ours(a, b);
  auto reference = ours(a64, b64);  // float64 never takes the oneDNN path
  REQUIRE(out.sizes() == reference.sizes());
  CHECK(out.scalar_type() == torch::kFloat32);
  CHECK(torch::allclose(out.to(torch::kFloat64), reference, 1e-5, 1e-5));
  auto upstream = torch::randn(out.sizes(), torch::kFloat64);
  out.backward(upstream.to(torch::kFloat32));
  reference.backward(upstream);
  CHECK(torch::allclose(a.grad().to(torch::kFloat64), a64.grad(), 1e-5, 1e-5));
  CHECK(torch::allclose(b.grad().to(torch::kFloat64), b64.grad(), 1e-5, 1e-5));
}

torch::Tensor products(const torch::Tensor& a, const torch::Tensor& b) { return lb::matmul(a, b); }

}  // namespace

TEST_CASE("oneDNN sgemm is found among the libraries libtorch loads, and is the fp32 CPU default") {
  // Debian's libtorch links the system oneDNN; a libtorch without it falls back to its own matmul.
  CHECK(default_gemm_backend() == GemmBackend::kOneDnn);
  CHECK(choose_thread_layout(2, false, "cpu").intra_op == 2);  // oneDNN runs on libtorch's OpenMP pool
  GemmBackendScope libtorch(GemmBackend::kLibtorch);
  CHECK(choose_thread_layout(2, false, "cpu").intra_op == 1);  // BLAS GEMMs: OpenBLAS gets the cores
}

TEST_CASE("oneDNN matmul and linear equal float64 products in values and gradients, for every operand layout") {
  GemmBackendScope onednn(GemmBackend::kOneDnn);
  REQUIRE(gemm_backend() == GemmBackend::kOneDnn);
  torch::manual_seed(3);
  SECTION("linear: x [2, 5, 7] and an [out, in] weight") {
    check_against_float64([](const torch::Tensor& x, const torch::Tensor& w) { return lb::linear(x, w); },
                          torch::randn({2, 5, 7}), torch::randn({3, 7}));
  }
  SECTION("contiguous operands, a small batch (each product on every thread)") {
    check_against_float64(products, torch::randn({3, 4, 6}), torch::randn({3, 6, 5}));
  }
  SECTION("b a transposed view (q k^T), many heads (products in parallel)") {
    auto k = torch::randn({4, 3, 9, 8});
    check_against_float64(products, torch::randn({4, 3, 9, 8}), k.transpose(-2, -1));
  }
  SECTION("a transposed view and b permuted (neither layout contiguous)") {
    auto a = torch::randn({2, 3, 6, 5}).transpose(-2, -1);
    auto b = torch::randn({2, 6, 3, 7}).permute({0, 2, 1, 3});
    check_against_float64(products, a, b);
  }
  SECTION("empty inner dimension") {
    auto out = lb::matmul(torch::randn({2, 3, 0}), torch::randn({2, 0, 4}));
    CHECK(torch::equal(out, torch::zeros({2, 3, 4})));
  }
}

TEST_CASE("a weight's gradient from oneDNN linear comes out in the weight's own [out, in] layout") {
  GemmBackendScope onednn(GemmBackend::kOneDnn);
  auto w = torch::randn({6, 4}, torch::requires_grad());
  auto x = torch::randn({3, 4});
  lb::linear(x, w).sum().backward();
  CHECK(w.grad().is_contiguous());
  // d/dW of sum(x W^T): every row of the gradient is the column sums of x
  CHECK(torch::allclose(w.grad(), x.sum(0).expand({6, 4}), 1e-5, 1e-6));
}

TEST_CASE("bf16 autocast and float64 keep libtorch's own matmul") {
  GemmBackendScope onednn(GemmBackend::kOneDnn);
  auto x = torch::randn({4, 8}), w = torch::randn({5, 8});
  {
    AutocastScope bf16(true, torch::kCPU);
    CHECK(lb::linear(x, w).scalar_type() == torch::kBFloat16);  // what F::linear gives under autocast
  }
  CHECK(lb::linear(x.to(torch::kFloat64), w.to(torch::kFloat64)).scalar_type() == torch::kFloat64);
}

TEST_CASE("a model trained through oneDNN matches the same model trained through libtorch's matmul") {
  auto run = [](GemmBackend backend) {
    GemmBackendScope scope(backend);
    auto model = test::tiny_model("rope", 16, 64);
    auto stream = torch::randint(256, {4096}, torch::kUInt8);
    auto job = test::quick_job(16, 6, 8);
    train(model, stream, job, torch::kCPU);
    std::vector<torch::Tensor> weights;
    for (const auto& p : model->parameters()) weights.push_back(p.detach().clone());
    return weights;
  };
  torch::manual_seed(5);
  auto ours = run(GemmBackend::kOneDnn);
  torch::manual_seed(5);
  auto theirs = run(GemmBackend::kLibtorch);
  REQUIRE(ours.size() == theirs.size());
  double largest_gap = 0;
  for (size_t i = 0; i < ours.size(); ++i) largest_gap = std::max(largest_gap, (ours[i] - theirs[i]).abs().max().item<double>());
  INFO("largest weight difference " << largest_gap);
  CHECK(largest_gap < 1e-4);  // float rounding of differently ordered sums, after 6 AdamW steps
}

TEST_CASE("the rotary kernel equals x*c + swap_halves(x)*s in float64, values and gradient, on a strided view") {
  torch::manual_seed(4);
  const int64_t B = 2, H = 3, T = 5, hd = 8;
  // q as the attention gets it: a permuted view of the qkv projection [B, T, 3, H, hd]
  auto qkv = torch::randn({B, T, 3, H, hd});
  auto x = qkv.permute({2, 0, 3, 1, 4})[0];
  auto c = torch::randn({T, hd}), s = torch::randn({T, hd});
  REQUIRE(rotary_kernel_applies(x, c, s));
  CHECK_FALSE(rotary_kernel_applies(x.to(torch::kFloat64), c, s));
  CHECK_FALSE(rotary_kernel_applies(x, c.unsqueeze(0), s.unsqueeze(0)));

  auto qkv32 = qkv.clone().requires_grad_();
  auto x64 = x.detach().to(torch::kFloat64).requires_grad_();
  auto ours = rotary_kernel(qkv32.permute({2, 0, 3, 1, 4})[0], c, s);
  auto swapped = torch::cat({x64.narrow(-1, hd / 2, hd / 2), x64.narrow(-1, 0, hd / 2)}, -1);
  auto reference = x64 * c.to(torch::kFloat64) + swapped * s.to(torch::kFloat64);
  CHECK(ours.is_contiguous());
  CHECK(torch::allclose(ours.to(torch::kFloat64), reference, 1e-6, 1e-6));
  auto upstream = torch::randn({B, H, T, hd}, torch::kFloat64);
  ours.backward(upstream.to(torch::kFloat32).transpose(1, 2).contiguous().transpose(1, 2));  // a strided gradient
  reference.backward(upstream);
  auto x_grad = qkv32.grad().permute({2, 0, 3, 1, 4})[0];
  CHECK(torch::allclose(x_grad.to(torch::kFloat64), x64.grad(), 1e-6, 1e-6));
  CHECK(torch::equal(qkv32.grad().permute({2, 0, 3, 1, 4})[1], torch::zeros({B, H, T, hd})));
}

TEST_CASE("the GELU kernel equals x * Phi(x) in float64, values and gradient, including the tails") {
  auto x = torch::cat({torch::randn({3, 1000}) * 3, torch::tensor({-30.f, -8.f, -1e-3f, 0.f, 1e-3f, 8.f, 30.f}).expand({3, 7})}, 1);
  auto x32 = x.clone().requires_grad_();
  auto x64 = x.to(torch::kFloat64).requires_grad_();
  auto ours = lb::gelu(x32);
  auto reference = x64 * 0.5 * (1 + torch::erf(x64 / std::sqrt(2.0)));
  CHECK(torch::allclose(ours.to(torch::kFloat64), reference, 1e-5, 1e-6));
  auto upstream = torch::randn(x.sizes(), torch::kFloat64);
  ours.backward(upstream.to(torch::kFloat32));
  reference.backward(upstream);
  CHECK(torch::allclose(x32.grad().to(torch::kFloat64), x64.grad(), 1e-5, 1e-6));
  CHECK(lb::gelu(x.to(torch::kFloat64)).scalar_type() == torch::kFloat64);  // other dtypes: libtorch's GELU
}

TEST_CASE("the bf16 rotary and GELU kernels equal float64 rounded once to bf16, values and gradients") {
  torch::manual_seed(8);
  // bf16 has 8 significant bits: one rounding of the exact value is within 2^-8 relative.
  constexpr double kBf16Rtol = 1.0 / 128, kBf16Atol = 1e-6;
  const int64_t B = 2, H = 3, T = 5, hd = 8;
  auto qkv = torch::randn({B, T, 3, H, hd}).to(torch::kBFloat16);
  auto c = torch::randn({T, hd}), s = torch::randn({T, hd});
  auto x = qkv.permute({2, 0, 3, 1, 4})[0];
  REQUIRE(rotary_kernel_applies(x, c, s));
  auto qkv16 = qkv.clone().requires_grad_();
  auto ours = rotary_kernel(qkv16.permute({2, 0, 3, 1, 4})[0], c, s);
  CHECK(ours.scalar_type() == torch::kBFloat16);
  auto x64 = x.to(torch::kFloat64).requires_grad_();
  auto swapped = torch::cat({x64.narrow(-1, hd / 2, hd / 2), x64.narrow(-1, 0, hd / 2)}, -1);
  auto reference = x64 * c.to(torch::kFloat64) + swapped * s.to(torch::kFloat64);
  INFO("rotary max |diff| " << (ours.to(torch::kFloat64) - reference).abs().max().item<double>());
  CHECK(torch::allclose(ours.to(torch::kFloat64), reference, kBf16Rtol, kBf16Atol));
  // Exactly the fp32 computation rounded to bf16 once (what the tensor ops under autocast give).
  auto fp32 = rotary_kernel(x.to(torch::kFloat32), c, s);
  CHECK(torch::equal(ours, fp32.to(torch::kBFloat16)));
  auto upstream = torch::randn({B, H, T, hd}, torch::kFloat64);
  ours.backward(upstream.to(torch::kBFloat16));
  reference.backward(upstream.to(torch::kBFloat16).to(torch::kFloat64));
  auto x_grad = qkv16.grad().permute({2, 0, 3, 1, 4})[0];
  CHECK(torch::allclose(x_grad.to(torch::kFloat64), x64.grad(), kBf16Rtol, 1e-2));

  auto g = (torch::randn({2, 500}) * 3).to(torch::kBFloat16);
  auto g16 = g.clone().requires_grad_();
  auto gelu16 = lb::gelu(g16);
  CHECK(gelu16.scalar_type() == torch::kBFloat16);
  auto g64 = g.to(torch::kFloat64).requires_grad_();
  auto gelu_ref = g64 * 0.5 * (1 + torch::erf(g64 / std::sqrt(2.0)));
  INFO("gelu max |diff| " << (gelu16.to(torch::kFloat64) - gelu_ref).abs().max().item<double>());
  CHECK(torch::allclose(gelu16.to(torch::kFloat64), gelu_ref, kBf16Rtol, 1e-3));
  auto up = torch::randn(g.sizes(), torch::kFloat64).to(torch::kBFloat16);
  gelu16.backward(up);
  gelu_ref.backward(up.to(torch::kFloat64));
  // The slope is stored in bf16 and multiplied in bf16: two roundings.
  CHECK(torch::allclose(g16.grad().to(torch::kFloat64), g64.grad(), 2 * kBf16Rtol, 1e-2));
}
