// BigBird's block-sparse attention (Zaheer et al. 2020), causal: the sequence is cut into blocks
// of `block` tokens; a query block sees its own and the previous window_blocks - 1 blocks, the
// first global_blocks blocks (and global query blocks see every earlier block), and
// random_blocks earlier blocks drawn per query block. Key j is visible to query i when its block
// is one of those and j <= i (the model's causal mask). The random choice depends only on the
// query block's index and `seed`, so a query sees the same blocks at every length. NoPE otherwise.
// How it differs from longformer: blocks instead of tokens, and random long-range blocks.
#include "encodings/mask_pattern.h"
#include "encodings/options.h"

#include <fmt/format.h>
#include <limits>
#include <random>
#include <set>

namespace lb {

namespace {

class BigBird : public MaskPatternEncoding {
 public:
  explicit BigBird(const EncodingSpec& spec)
      : MaskPatternEncoding(spec),
        block_(int64_t(option("block")) > 0 ? int64_t(option("block")) : std::max<int64_t>(1, spec.train_length / 8)),
        window_(option("window_blocks")),
        globals_(option("global_blocks")),
        random_(option("random_blocks")),
        seed_(option("seed")) {}
  nlohmann::json inspect(int64_t T) override {
    const int64_t blocks = (T + block_ - 1) / block_;
    std::vector<std::vector<int64_t>> seen;
    for (int64_t b = 0; b < blocks; ++b) {
      const auto s = visible_blocks(b);
      seen.emplace_back(s.begin(), s.end());
    }
    return {{"block", block_}, {"window_blocks", window_}, {"global_blocks", globals_}, {"random_blocks", random_},
            {"visible_blocks", seen}};
  }
  std::string notes() const override {
    return fmt::format("queries see {} window blocks, {} global and {} random earlier blocks of {} tokens", window_,
                       globals_, random_, block_);
  }

  // The key blocks query block b sees (all <= b).
  std::set<int64_t> visible_blocks(int64_t b) const {
    std::set<int64_t> seen;
    if (b < globals_) {  // a global query block sees everything before it
      for (int64_t j = 0; j <= b; ++j) seen.insert(j);
      return seen;
    }
    for (int64_t j = std::max<int64_t>(0, b - window_ + 1); j <= b; ++j) seen.insert(j);
    for (int64_t j = 0; j < std::min(globals_, b + 1); ++j) seen.insert(j);
    std::vector<int64_t> others;
    for (int64_t j = 0; j < b; ++j)
      if (!seen.count(j)) others.push_back(j);
    std::mt19937_64 rng(uint64_t(seed_) * 1000003ull + uint64_t(b));
    std::shuffle(others.begin(), others.end(), rng);
    for (int64_t r = 0; r < std::min<int64_t>(random_, int64_t(others.size())); ++r) seen.insert(others[size_t(r)]);
    return seen;
  }

 private:
  // [1, q1 - q0, q1]: 0 where the key's block is visible to the query's, -inf elsewhere.
  torch::Tensor pattern(int64_t q0, int64_t q1) const override {
    const int64_t first = q0 / block_, last = (q1 - 1) / block_, key_blocks = (q1 + block_ - 1) / block_;
    auto table = torch::zeros({last - first + 1, key_blocks}, torch::kBool);
    for (int64_t b = first; b <= last; ++b)
      for (int64_t j : visible_blocks(b)) table[b - first][j] = true;
    auto qb = torch::arange(q0, q1, torch::kInt64).div(block_, "floor") - first;
    auto kb = torch::arange(q1, torch::kInt64).div(block_, "floor");
    auto visible = table.index({qb.unsqueeze(1), kb.unsqueeze(0)});
    return torch::where(visible, torch::zeros({1}), torch::full({1}, -std::numeric_limits<float>::infinity()))
        .unsqueeze(0);
  }

  int64_t block_, window_, globals_, random_, seed_;
};

}  // namespace

std::shared_ptr<Encoding> make_bigbird(const EncodingSpec& spec) {
  const int64_t block = spec.options.at("block"), L = spec.train_length;
  const int64_t effective = block > 0 ? block : std::max<int64_t>(1, L / 8);
  if (block < 0 || effective > L || L % effective != 0)
    throw OptionError("block", fmt::format("bigbird option \"block\" must divide train.length = {} (0 = L/8), got {}",
                                           L, block));
  if (int64_t(spec.options.at("window_blocks")) < 1 || int64_t(spec.options.at("window_blocks")) > L / effective)
    throw OptionError("window_blocks", fmt::format("bigbird option \"window_blocks\" must be in [1, {}] (blocks in L)",
                                                   L / effective));
  if (int64_t(spec.options.at("global_blocks")) < 0 || int64_t(spec.options.at("random_blocks")) < 0)
    throw OptionError(int64_t(spec.options.at("global_blocks")) < 0 ? "global_blocks" : "random_blocks",
                      "bigbird options \"global_blocks\" and \"random_blocks\" must be >= 0");
  return std::make_shared<BigBird>(spec);
}

}  // namespace lb
