#include "harness/data/tasks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include "harness/core/named_table.h"
#include "harness/core/hash.h"

namespace lb {
namespace {

constexpr int32_t kSeparator = 1, kNeedle = 2, kDigit0 = 10, kKey0 = 32, kKeys = 96, kValue0 = 128, kValues = 64,
                  kFiller0 = 192, kFillers = 64, kCountSymbols = 8;

using Rng = std::mt19937_64;

int32_t draw(Rng& rng, int32_t first, int32_t count) {
  return first + int32_t(std::uniform_int_distribution<int32_t>(0, count - 1)(rng));
}

// Builds an instance token by token; answer tokens are marked as they are appended.
struct Builder {
  TaskInstance out;
  void add(int32_t token, bool answer = false) {
    out.tokens.push_back(token);
    out.answer.push_back(answer ? 1 : 0);
  }
  TaskInstance finish(int64_t length) {
    if (int64_t(out.tokens.size()) > length) throw std::logic_error("task instance longer than requested");
    out.tokens.resize(size_t(length), kTaskPad);
    out.answer.resize(size_t(length), 0);
    return std::move(out);
  }
};

// copy / reverse: [marker] x1..xk [sep] then x1..xk (or xk..x1), k = (length - 2) / 2.
TaskInstance copy_like(int32_t marker, bool reversed, int64_t length, Rng& rng) {
  const int64_t k = (length - 2) / 2;
  std::vector<int32_t> x(static_cast<size_t>(k));
  for (auto& t : x) t = draw(rng, kKey0, kKeys + kValues);
  Builder b;
  b.add(marker);
  for (auto t : x) b.add(t);
  b.add(kSeparator);
  if (reversed) std::reverse(x.begin(), x.end());
  for (auto t : x) b.add(t, true);
  return b.finish(length);
}

TaskInstance copy_task(int64_t length, Rng& rng, const TaskConfig&) { return copy_like(3, false, length, rng); }
TaskInstance reverse_task(int64_t length, Rng& rng, const TaskConfig&) { return copy_like(4, true, length, rng); }

// Multi-query associative recall (Zoology's MQAR): m pairs "k v" with distinct keys, the separator,
// then q of the keys again, each followed by its value (the answer). Past 96 pairs (the key
// alphabet) the rest of the length is filler tokens scattered between the pairs.
TaskInstance recall_task(int64_t length, Rng& rng, const TaskConfig& o) {
  const int64_t q = std::max<int64_t>(1, std::min(o.queries, (length - 2) / 4));
  const int64_t room = length - 2 - 2 * q;
  const int64_t m = std::min<int64_t>(room / 2, kKeys);
  std::vector<int32_t> keys(static_cast<size_t>(kKeys));
  std::iota(keys.begin(), keys.end(), kKey0);
  std::shuffle(keys.begin(), keys.end(), rng);
  keys.resize(static_cast<size_t>(m));
  std::vector<int32_t> values(static_cast<size_t>(m));
  for (auto& v : values) v = draw(rng, kValue0, kValues);
  // Filler goes in front of pair at[j] (m = after the last pair).
  std::vector<int64_t> at(static_cast<size_t>(room - 2 * m));
  for (auto& p : at) p = std::uniform_int_distribution<int64_t>(0, m)(rng);
  std::sort(at.begin(), at.end());
  std::vector<int64_t> asked(static_cast<size_t>(m));
  std::iota(asked.begin(), asked.end(), 0);
  std::shuffle(asked.begin(), asked.end(), rng);
  Builder b;
  b.add(5);
  size_t next = 0;
  for (int64_t i = 0; i <= m; ++i) {
    for (; next < at.size() && at[next] == i; ++next) b.add(draw(rng, kFiller0, kFillers));
    if (i == m) break;
    b.add(keys[size_t(i)]);
    b.add(values[size_t(i)]);
  }
  b.add(kSeparator);
  for (int64_t j = 0; j < q; ++j) {
    const size_t i = size_t(asked[size_t(j)]);
    b.add(keys[i]);
    b.add(values[i], true);
  }
  return b.finish(length);
}

// Passkey with distractors: filler, with needles "[needle] name d d d d" at random depths (one per
// name), then "[sep] name" asking for one of them; the answer is its 4 digits.
TaskInstance passkey_task(int64_t length, Rng& rng, const TaskConfig& o) {
  constexpr int64_t kNeedleTokens = 6, kQuestion = 2, kDigits = 4;
  const int64_t needles =
      std::max<int64_t>(1, std::min(1 + o.distractors, (length - 1 - kQuestion - kDigits) / kNeedleTokens));
  const int64_t filler = length - 1 - needles * kNeedleTokens - kQuestion - kDigits;
  std::vector<int32_t> names(static_cast<size_t>(kKeys));
  std::iota(names.begin(), names.end(), kKey0);
  std::shuffle(names.begin(), names.end(), rng);
  std::vector<std::vector<int32_t>> digits(static_cast<size_t>(needles), std::vector<int32_t>(kDigits));
  for (auto& d : digits)
    for (auto& t : d) t = draw(rng, kDigit0, 10);
  // Each needle goes in front of filler token `at[i]` (sorted; equal positions keep needle order).
  std::vector<int64_t> at(static_cast<size_t>(needles));
  for (auto& p : at) p = std::uniform_int_distribution<int64_t>(0, filler)(rng);
  std::sort(at.begin(), at.end());
  const size_t asked = size_t(std::uniform_int_distribution<int64_t>(0, needles - 1)(rng));
  Builder b;
  b.add(6);
  size_t next = 0;
  for (int64_t f = 0; f <= filler; ++f) {
    for (; next < at.size() && at[next] == f; ++next) {
      b.add(kNeedle);
      b.add(names[next]);
      for (auto t : digits[next]) b.add(t);
    }
    if (f < filler) b.add(draw(rng, kFiller0, kFillers));
  }
  b.add(kSeparator);
  b.add(names[asked]);
  for (auto t : digits[asked]) b.add(t, true);
  return b.finish(length);
}

// Counting: k symbols from an alphabet of 8, the separator, one of the symbols, then how many
// times it occurred as 3 decimal digits.
TaskInstance count_task(int64_t length, Rng& rng, const TaskConfig&) {
  const int64_t k = length - 6;
  if (k > 999) throw std::invalid_argument(fmt::format("task \"count\" writes counts in 3 digits: at most 1005 tokens, not {}", length));
  std::vector<int32_t> x(static_cast<size_t>(k));
  for (auto& t : x) t = draw(rng, kValue0, kCountSymbols);
  const int32_t asked = draw(rng, kValue0, kCountSymbols);
  const int64_t n = std::count(x.begin(), x.end(), asked);
  Builder b;
  b.add(7);
  for (auto t : x) b.add(t);
  b.add(kSeparator);
  b.add(asked);
  for (int64_t place : {100, 10, 1}) b.add(kDigit0 + int32_t(n / place % 10), true);
  return b.finish(length);
}

}  // namespace

const std::vector<TaskInfo>& task_registry() {
  static const std::vector<TaskInfo> tasks = {
      {"copy", "repeat a random string after a separator", 4, copy_task},
      {"reverse", "repeat a random string reversed", 4, reverse_task},
      {"recall", "multi-query associative recall: key-value pairs, then the values of asked keys", 6, recall_task},
      {"passkey", "a 4-digit key among named distractor needles in random filler, asked by name", 13, passkey_task},
      {"count", "how often one of 8 symbols occurs in a random string (3 digits)", 7, count_task},
  };
  return tasks;
}

std::vector<std::string> task_names() { return names_of(task_registry()); }

const TaskInfo& task_info(const std::string& name) { return find_named(task_registry(), name, "task"); }

TaskInstance make_task_instance(const std::string& task, int64_t length, uint64_t seed, uint64_t index,
                                const TaskConfig& options) {
  const TaskInfo& info = task_info(task);
  if (length < info.min_length)
    throw std::invalid_argument(fmt::format("task \"{}\" needs instances of at least {} tokens, not {}", task,
                                            info.min_length, length));
  Rng rng(fnv1a(fmt::format("{}/{}/{}/{}", task, length, seed, index)));
  return info.make(length, rng, options);
}

}  // namespace lb
