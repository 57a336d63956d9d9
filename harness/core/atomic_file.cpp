#include "harness/core/atomic_file.h"

#include <fmt/format.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness/core/errors.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

void ensure_directory(const std::string& dir, const std::string& what) {
  if (dir.empty()) return;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw InputError(fmt::format("{} \"{}\" is a file; expected a directory", what, dir));
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {} \"{}\": {}", what, dir, ec.message()));
}

void write_text_atomic(const std::string& path, const std::string& text) {
  ensure_directory(fs::path(path).parent_path().string(), "directory");
  if (fs::is_directory(path)) throw InputError(fmt::format("\"{}\" is a directory; expected a file to write", path));
  // Per-process temp name: two writers never share one; the rename is the only visible step.
  const std::string tmp = fmt::format("{}.tmp{}", path, ::getpid());
  auto fail = [&](const std::string& what) {
    const std::string reason = errno ? std::strerror(errno) : "write failed";
    std::error_code ec;
    fs::remove(tmp, ec);
    throw std::runtime_error(fmt::format("cannot write \"{}\" ({}: {}); nothing was changed", path, what, reason));
  };
  errno = 0;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("open");
    out.write(text.data(), std::streamsize(text.size()));
    out.flush();
    if (!out) fail("disk full or file-size limit?");
    out.close();
    if (!out) fail("close");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    errno = ec.value();
    fail("rename");
  }
}

void write_json_atomic(const std::string& path, const json& value) {
  std::string text = value.dump();  // large reports stay compact (~5x smaller than indented)
  if (text.size() <= kCompactJsonBytes) text = value.dump(2);
  write_text_atomic(path, text + "\n");
}

json read_json_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(fmt::format("\"{}\" does not exist", path));
  if (fs::is_directory(path, ec)) throw InputError(fmt::format("\"{}\" is a directory; expected a JSON file", path));
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("cannot open \"{}\": {}", path, std::strerror(errno)));
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw InputError(fmt::format("\"{}\" is not valid JSON (truncated or damaged?)", path));
  return j;
}

}  // namespace lb
