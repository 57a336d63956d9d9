#include "harness/data/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fstream>

namespace lb {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("cannot read data file \"{}\"", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::shared_ptr<Mapping> map_file(const fs::path& path) {
  if (!fs::exists(path)) throw DataError(fmt::format("data file \"{}\" does not exist", path.string()));
  const size_t size = fs::file_size(path);
  if (size == 0) throw DataError(fmt::format("data file \"{}\" is empty", path.string()));
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw DataError(fmt::format("cannot read data file \"{}\"", path.string()));
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) throw DataError(fmt::format("cannot map data file \"{}\"", path.string()));
  return std::shared_ptr<Mapping>(new Mapping{static_cast<const char*>(data), size}, [](Mapping* m) {
    ::munmap(const_cast<char*>(m->data), m->size);
    delete m;
  });
}

torch::Tensor map_tensor(const fs::path& path, torch::ScalarType dtype) {
  auto m = map_file(path);
  const int64_t n = int64_t(m->size / torch::elementSize(dtype));
  return torch::from_blob(const_cast<char*>(m->data), {n}, [m](void*) {}, dtype);
}

TokenFormat token_format(int64_t vocab) {
  if (vocab <= 256) return {"uint8", torch::kUInt8, 1};
  if (vocab <= 65536) return {"uint16", torch::kInt16, 2};
  return {"int32", torch::kInt32, 4};
}

torch::Tensor token_ids(const torch::Tensor& stored) {
  auto ids = stored.to(torch::kInt64);
  return stored.scalar_type() == torch::kInt16 ? ids.bitwise_and(0xFFFF) : ids;
}

}  // namespace lb
