// The data layer's files: whole-file reads, read-only memory maps, and the widths token files
// are stored in.
#pragma once
#include <torch/torch.h>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "harness/core/errors.h"

namespace lb {

// Bad or unreadable data: the message names the file.
struct DataError : InputError {
  using InputError::InputError;
};

std::string read_file(const std::filesystem::path& path);

// A read-only memory map of a whole file, unmapped when the last owner goes away.
struct Mapping {
  const char* data = nullptr;
  size_t size = 0;
};
std::shared_ptr<Mapping> map_file(const std::filesystem::path& path);
// A 1-D tensor viewing a mapped file; the mapping lives as long as the tensor.
torch::Tensor map_tensor(const std::filesystem::path& path, torch::ScalarType dtype);

// Stored token width: the smallest that holds the vocabulary. libtorch 1.13 has no uint16, so
// uint16 files are viewed as int16 and token_ids() reads ids >= 32768 back correctly.
struct TokenFormat {
  std::string name;
  torch::ScalarType dtype;
  size_t bytes;
};
TokenFormat token_format(int64_t vocab);

// Token ids as int64 from a stored stream slice (undoes the int16 view of uint16 files).
torch::Tensor token_ids(const torch::Tensor& stored);

}  // namespace lb
