// Synthetic tasks for length generalization (the NoPE study's, RULER's and CoPE's kind): each
// instance is a prompt and an answer in one token sequence, generated deterministically from a
// seed, so no files are needed. Models train on instances up to L tokens and are scored on
// instances of exactly T tokens at T = L .. 4L by exact match on the answer. Torch-free.
//
// Vocabulary (256 ids, so byte-sized models fit): 0 padding, 1 separator, 2 needle marker, 3-7
// task markers, 10-19 digits, 32-127 keys and names, 128-191 values, 192-255 filler; copied
// strings draw from 32-191, counted ones from the first 8 values.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "harness/config/config.h"  // TaskConfig: queries, distractors

namespace lb {

constexpr int64_t kTaskVocab = 256;
constexpr int32_t kTaskPad = 0;


struct TaskInstance {
  std::vector<int32_t> tokens;  // exactly the requested length, padded at the end
  std::vector<uint8_t> answer;  // 1 where tokens[t] is part of the answer (predicted from t - 1)
};

struct TaskInfo {
  std::string name;
  std::string description;
  int64_t min_length;  // shortest instance it can make
  TaskInstance (*make)(int64_t length, std::mt19937_64& rng, const TaskConfig& options);
};
const std::vector<TaskInfo>& task_registry();
std::vector<std::string> task_names();
const TaskInfo& task_info(const std::string& name);  // throws naming the allowed tasks

// One instance of `length` tokens, determined by (task, length, seed, index).
TaskInstance make_task_instance(const std::string& task, int64_t length, uint64_t seed, uint64_t index,
                                const TaskConfig& options = TaskConfig{});

}  // namespace lb
