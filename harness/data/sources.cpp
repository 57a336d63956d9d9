#include "harness/data/sources.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <algorithm>
#include <fstream>

#include "harness/data/tokenizer.h"
#include "harness/core/hash.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_held_out(const std::string& document, double fraction) {
  return double(fnv1a(document) % 1000000) < fraction * 1e6;
}

std::string detect_format(const std::string& path) {
  if (!fs::exists(path))
    throw DataError(fmt::format("data.path \"{}\" does not exist (for the default corpus run scripts/setup)", path));
  if (fs::is_directory(path)) return fs::exists(fs::path(path) / "train.bin") ? "bin" : "dir";
  const auto ext = fs::path(path).extension().string();
  if (ext == ".jsonl") return "jsonl";
  if (ext == ".bin") return "bin";
  return "text";
}

static std::vector<fs::path> list_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw DataError(fmt::format("data directory \"{}\" holds no files", dir.string()));
  return files;
}

std::string split_rule(const std::string& format, double fraction) {
  if (format == "dir")
    return fmt::format("each file is a document; held out if FNV-1a(relative path) mod 1e6 < {:.0f}", fraction * 1e6);
  if (format == "jsonl")
    return fmt::format("each line is a document; held out if FNV-1a(line number) mod 1e6 < {:.0f}", fraction * 1e6);
  return fmt::format("one document: the last {:.1f}% of the file is held out, cut at a line boundary", fraction * 100);
}

// Visits every document (a single file's two parts, each file of a directory, each JSONL line)
// in a fixed order, with its split already decided. At most one document is in memory at a time.
void for_each_document(const DataConfig& c, const std::string& format, const DocumentVisitor& visit) {
  const double fraction = c.held_out_fraction;
  if (format == "text" || format == "bytes") {
    auto m = map_file(c.path);
    const std::string_view text(m->data, m->size);
    // Cut after the first newline past the target point, else after the last one before it, so
    // that the held-out tail starts at a line (and never inside a UTF-8 character).
    size_t cut = size_t(double(text.size()) * (1.0 - fraction));
    if (const auto next = text.find('\n', cut); next != std::string_view::npos && next + 1 < text.size())
      cut = next + 1;
    else if (const auto prev = text.rfind('\n', cut); prev != std::string_view::npos && prev > 0)
      cut = prev + 1;
    else
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    const auto head = text.substr(0, cut);
    visit(c.path, head, false, 1);
    visit(c.path, text.substr(cut), true, 1 + std::count(head.begin(), head.end(), '\n'));
  } else if (format == "dir") {
    for (const auto& f : list_files(c.path))
      visit(f.string(), read_file(f), is_held_out(fs::relative(f, c.path).string(), fraction), 1);
  } else if (format == "jsonl") {
    std::ifstream in(c.path, std::ios::binary);
    if (!in) throw DataError(fmt::format("cannot read data file \"{}\"", c.path));
    std::string line;
    int64_t line_no = 0, documents = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json doc;
      try {
        doc = json::parse(line);
      } catch (const json::parse_error& e) {
        throw DataError(fmt::format("{}:{}: line is not valid JSON ({})", c.path, line_no, e.what()));
      }
      if (!doc.is_object() || !doc.contains(c.field) || !doc[c.field].is_string())
        throw DataError(fmt::format("{}:{}: no string field \"{}\" (set data.field)", c.path, line_no, c.field));
      ++documents;
      visit(fmt::format("{}:{}", c.path, line_no), doc[c.field].get<std::string>() + "\n",
            is_held_out(std::to_string(line_no), fraction), 1);
    }
    if (documents == 0) throw DataError(fmt::format("data file \"{}\" holds no JSONL documents", c.path));
  } else {
    throw DataError(fmt::format("data.format \"{}\" is not one of: auto, text, dir, jsonl, bin, bytes", format));
  }
}

void check_utf8(const std::string& where, std::string_view text, int64_t first_line) {
  const size_t bad = invalid_utf8_offset(text);
  if (bad == std::string_view::npos) return;
  const auto line = first_line + std::count(text.begin(), text.begin() + bad, '\n');
  const auto line_start = text.rfind('\n', bad);
  const size_t column = bad - (line_start == std::string_view::npos ? 0 : line_start + 1);
  throw DataError(fmt::format("\"{}\" is not valid UTF-8 (line {}, byte {} of the line); the sentencepiece "
                              "tokenizer needs text: fix or remove the file, or use data.tokenizer.kind \"bytes\", "
                              "which reads any bytes",
                              where, line, column + 1));
}

// What the cache is valid for: every source file's name, size and modification time.
json source_state(const DataConfig& c, const std::string& format) {
  std::vector<fs::path> files = format == "dir" ? list_files(c.path) : std::vector<fs::path>{c.path};
  uint64_t h = kFnvOffset;
  int64_t bytes = 0;
  const fs::path base = format == "dir" ? fs::path(c.path) : fs::path(c.path).parent_path();
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) throw DataError(fmt::format("cannot read data file \"{}\"", f.string()));
    bytes += st.st_size;
    const int64_t mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    h = fnv1a(fmt::format("{}\t{}\t{}\n", fs::relative(f, base).string(), st.st_size, mtime_ns), h);
  }
  return {{"path", fs::absolute(c.path).lexically_normal().string()},
          {"format", format},
          {"files", files.size()},
          {"bytes", bytes},
          {"fingerprint", hex64(h)}};
}

torch::Tensor read_bin(const fs::path& path, int64_t vocab) {
  if (!fs::exists(path)) throw DataError(fmt::format("token file \"{}\" does not exist", path.string()));
  const auto size = fs::file_size(path);
  if (size % 2 != 0)
    throw DataError(fmt::format("token file \"{}\" has an odd size ({} bytes); expected uint16 tokens",
                                path.string(), size));
  if (size == 0) throw DataError(fmt::format("token file \"{}\" is empty", path.string()));
  auto tokens = map_tensor(path, torch::kInt16);
  int64_t max_token = 0;
  const int64_t chunk = 1 << 24;  // bounded temporary memory while validating
  for (int64_t i = 0; i < tokens.numel(); i += chunk)
    max_token = std::max(max_token, token_ids(tokens.narrow(0, i, std::min(chunk, tokens.numel() - i))).max().item<int64_t>());
  if (max_token >= vocab)
    throw DataError(fmt::format("token file \"{}\" holds token {} but data.vocab_size is {}",
                                path.string(), max_token, vocab));
  return tokens;
}

}  // namespace lb
