#include "harness/atomic_file.h"

#include <fmt/format.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

void write_text_atomic(const std::string& path, const std::string& text) {
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot write \"{}\"", tmp));
    out << text;
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("failed writing \"{}\"", tmp));
  }
  fs::rename(tmp, path);
}

void write_json_atomic(const std::string& path, const json& value) {
  write_text_atomic(path, value.dump(2) + "\n");
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot open \"{}\"", path));
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(fmt::format("\"{}\" is not valid JSON", path));
  return j;
}

}  // namespace lb
