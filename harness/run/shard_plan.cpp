#include "harness/run/shard_plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <numeric>
#include <set>

#include "harness/model/build.h"


namespace lb {

namespace {

double run_tokens(const Config& c, const RunSpec& run) {
  double eval = 0;
  for (const auto& protocol : c.eval.protocols)
    for (int64_t T : c.eval_lengths())
      eval += double(c.data.eval_tokens) * (protocol == Protocol::kSliding ? double(T) / double(c.eval.sliding_stride) : 1.0);
  return double(run.finetune.steps * c.train.batch_size * c.train.length) + eval / 3.0;
}

}  // namespace

std::vector<ShardUnit> plan_shards(const Config& c, int shards) {
  int64_t max_length = 0;
  for (int64_t T : c.eval_lengths()) max_length = std::max(max_length, T);
  std::vector<ShardUnit> units;
  for (uint64_t seed : c.training_seeds())
    for (const auto& run : c.runs) {
      const std::string model = run.encoding + (run.encoding_options.empty() ? "" : " " + run.encoding_options.dump());
      auto u = std::find_if(units.begin(), units.end(),
                            [&](const ShardUnit& x) { return x.model == model && x.seed == seed; });
      if (u == units.end()) {
        units.push_back({model, seed, {}, double(c.train.steps * c.train.batch_size * c.train.length), 0});
        u = units.end() - 1;
      }
      u->runs.push_back(run.name);
      u->cost += run_tokens(c, run);
    }
  for (size_t i = 0; i < units.size(); ++i) {
    const RunSpec& first = *std::find_if(c.runs.begin(), c.runs.end(), [&](const RunSpec& r) { return r.name == units[i].runs[0]; });
    // Per-token cost is proportional to the parameters a token passes through; the embedding is
    // the same for every model of a config, so it is left out (and the plan needs no data).
    units[i].cost *= non_embedding_parameters(c, first.encoding, max_length);
  }
  std::vector<size_t> order(units.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return units[a].cost > units[b].cost; });
  std::vector<double> load(size_t(std::max(shards, 1)), 0.0);
  for (size_t i : order) {
    const size_t s = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    units[i].shard = int(s) + 1;
    load[s] += units[i].cost;
  }
  return units;
}

std::string describe_plan(const std::vector<ShardUnit>& plan, int shards) {
  double total = 0;
  std::set<uint64_t> distinct;
  for (const auto& u : plan) total += u.cost, distinct.insert(u.seed);
  const size_t seeds = distinct.size();
  std::string out;
  for (int s = 1; s <= shards; ++s) {
    double cost = 0;
    std::vector<std::string> runs;
    for (const auto& u : plan)
      if (u.shard == s) {
        cost += u.cost;
        for (const auto& r : u.runs) runs.push_back(seeds > 1 ? fmt::format("{} (seed {})", r, u.seed) : r);
      }
    out += fmt::format("shard {}/{}: {:.0f}% of the estimated cost: {}\n", s, shards, total > 0 ? 100.0 * cost / total : 0.0,
                       runs.empty() ? std::string("(nothing)") : fmt::format("{}", fmt::join(runs, ", ")));
  }
  return out;
}

int shard_of(const std::vector<ShardUnit>& plan, const std::string& name, uint64_t seed) {
  for (const auto& u : plan)
    if (u.seed == seed && std::find(u.runs.begin(), u.runs.end(), name) != u.runs.end()) return u.shard;
  return 0;
}

}  // namespace lb
