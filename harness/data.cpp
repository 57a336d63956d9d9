#include "harness/data.h"

#include <ATen/Parallel.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

#include "harness/hash.h"
#include "harness/report.h"

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

namespace {

constexpr const char* kCacheSchema = "lengthbench-token-cache/1";
// SentencePiece trains on lines sampled from at most about this much training text.
constexpr double kTokenizerSampleBytes = 64e6;
// Documents are encoded in pieces of about this size (cut after a newline), in parallel.
constexpr size_t kEncodeChunkBytes = 1 << 20;
constexpr size_t kEncodeBatchBytes = 16 << 20;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("cannot read data file \"{}\"", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A read-only memory map of a whole file, unmapped when the last tensor viewing it goes away.
struct Mapping {
  const char* data = nullptr;
  size_t size = 0;
};

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

// Stored token width: the smallest that holds the vocabulary. libtorch 1.13 has no uint16, so
// uint16 files are viewed as int16 and token_ids() reads ids >= 32768 back correctly.
struct TokenFormat {
  std::string name;
  torch::ScalarType dtype;
  size_t bytes;
};

TokenFormat token_format(int64_t vocab) {
  if (vocab <= 256) return {"uint8", torch::kUInt8, 1};
  if (vocab <= 65536) return {"uint16", torch::kInt16, 2};
  return {"int32", torch::kInt32, 4};
}

// Memory-maps a nanoGPT uint16 token file and checks every id against the declared vocabulary.
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

Corpus load_bin(const DataConfig& c) {
  if (c.vocab_size <= 0)
    throw DataError("data.format \"bin\" needs data.vocab_size (the tokenizer's vocabulary size)");
  if (c.tokenizer.kind != "bytes")
    throw DataError("data.format \"bin\" is already tokenized; data.tokenizer.kind must stay \"bytes\" (the default)");
  const fs::path dir = fs::is_directory(c.path) ? fs::path(c.path) : fs::path(c.path).parent_path();
  Corpus corpus;
  corpus.train = read_bin(dir / "train.bin", c.vocab_size);
  corpus.held_out = read_bin(dir / "val.bin", c.vocab_size);
  corpus.vocab = c.vocab_size;
  corpus.summary = {{"path", c.path},
                    {"format", "bin"},
                    {"tokenizer", {{"kind", "pre-tokenized uint16"}, {"vocab", c.vocab_size}}},
                    {"split", "train.bin / val.bin as given"},
                    {"train_tokens", corpus.train.numel()},
                    {"held_out_tokens", corpus.held_out.numel()}};
  return corpus;
}

// ---- documents ---------------------------------------------------------------------------

// `where` names the document in errors (a file, or file:line for JSONL); `first_line` is the line
// number of the text's first line within that file.
using DocumentVisitor =
    std::function<void(const std::string& where, std::string_view text, bool held_out, int64_t first_line)>;

std::vector<fs::path> list_files(const fs::path& dir) {
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

// ---- the token cache -----------------------------------------------------------------------

std::string hex(uint64_t h) { return fmt::format("{:016x}", h); }

std::string file_hash(const fs::path& path) { return hex(fnv1a(read_file(path))); }

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
          {"fingerprint", hex(h)}};
}

// One cache entry per (source, format, split, tokenizer settings); its manifest then says which
// state of the source and which tokenizer model the tokens came from.
fs::path cache_prefix(const DataConfig& c, const std::string& format) {
  json identity = {{"path", fs::absolute(c.path).lexically_normal().string()},
                   {"format", format},
                   {"held_out_fraction", c.held_out_fraction},
                   {"tokenizer", c.tokenizer.kind}};
  if (format == "jsonl") identity["field"] = c.field;
  if (c.tokenizer.kind == "sentencepiece") {
    if (!c.tokenizer.model.empty())
      identity["model"] = fs::absolute(c.tokenizer.model).lexically_normal().string();
    else
      identity["train"] = {{"type", c.tokenizer.type}, {"vocab_size", c.tokenizer.vocab_size},
                           {"max_sentences", c.tokenizer.max_sentences}};
  }
  std::string stem = fs::path(c.path).lexically_normal().filename().string();
  if (stem.empty()) stem = fs::path(c.path).lexically_normal().parent_path().filename().string();
  for (char& ch : stem)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
  return fs::path(c.cache_dir) / fmt::format("{}-{}-{}", stem, c.tokenizer.kind, hex(fnv1a(identity.dump())).substr(0, 12));
}

fs::path with_suffix(const fs::path& prefix, const std::string& suffix) { return prefix.string() + suffix; }

// Why the cache at `prefix` cannot be used, or "" when it can.
std::string stale_reason(const json& manifest, const json& source, const fs::path& prefix) {
  if (manifest.is_null()) return "not built yet";
  if (manifest.value("schema", "") != kCacheSchema) return "written by another lengthbench version";
  if (manifest["source"]["fingerprint"] != source["fingerprint"]) return "the source files changed";
  const auto& tok = manifest["tokenizer"];
  if (tok["kind"] == "sentencepiece") {
    const std::string model = tok["model"];
    if (!fs::exists(model)) return fmt::format("its tokenizer model \"{}\" is gone", model);
    if (file_hash(model) != tok["model_hash"]) return fmt::format("the tokenizer model \"{}\" changed", model);
  }
  const auto& tokens = manifest["tokens"];
  const size_t width = token_format(tok["vocab"]).bytes;
  for (const char* part : {"train", "held_out"}) {
    const fs::path file = prefix.parent_path() / tokens[std::string(part) + "_file"].get<std::string>();
    if (!fs::exists(file) || fs::file_size(file) != tokens[part].get<size_t>() * width)
      return fmt::format("{} is missing or incomplete", file.string());
  }
  return "";
}

// Appends tokens of one stream to a temporary file, renamed into place when complete.
class TokenWriter {
 public:
  TokenWriter(fs::path path, TokenFormat format)
      : path_(std::move(path)), tmp_(with_suffix(path_, fmt::format(".tmp{}", ::getpid()))), format_(format),
        out_(tmp_, std::ios::binary) {
    if (!out_) throw DataError(fmt::format("cannot write token cache file \"{}\" (data.cache_dir)", tmp_.string()));
  }
  ~TokenWriter() {  // a build that failed part-way leaves nothing behind
    if (!finished_) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }
  void append(const std::vector<int32_t>& ids) {
    buffer_.resize(ids.size() * format_.bytes);
    char* p = buffer_.data();
    for (int32_t id : ids) {
      if (format_.bytes == 1) *p = char(uint8_t(id));
      else if (format_.bytes == 2) { const uint16_t v = uint16_t(id); std::memcpy(p, &v, 2); }
      else std::memcpy(p, &id, 4);
      p += format_.bytes;
    }
    out_.write(buffer_.data(), std::streamsize(buffer_.size()));
    hash_ = fnv1a(std::string_view(buffer_.data(), buffer_.size()), hash_);
    count_ += int64_t(ids.size());
  }
  void finish() {
    out_.close();
    if (!out_) throw DataError(fmt::format("writing token cache file \"{}\" failed (disk full?)", tmp_.string()));
    fs::rename(tmp_, path_);
    finished_ = true;
  }
  int64_t count() const { return count_; }
  std::string hash() const { return hex(hash_); }

 private:
  fs::path path_, tmp_;
  TokenFormat format_;
  std::ofstream out_;
  std::vector<char> buffer_;
  uint64_t hash_ = kFnvOffset;
  int64_t count_ = 0;
  bool finished_ = false;
};

// Trains SentencePiece on lines sampled (deterministically) from the training documents.
void train_tokenizer(const DataConfig& c, const std::string& format, const json& source, const fs::path& model) {
  const double rate = std::min(1.0, kTokenizerSampleBytes / std::max(1.0, source["bytes"].get<double>()));
  std::vector<std::string> lines;
  uint64_t line_index = 0;
  for_each_document(c, format, [&](const std::string& where, std::string_view text, bool held_out, int64_t first_line) {
    if (held_out) return;
    check_utf8(where, text, first_line);
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      const uint64_t i = line_index++;
      if (end > start && double(fnv1a(std::string_view(reinterpret_cast<const char*>(&i), sizeof i)) % 1000000) < rate * 1e6)
        lines.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
  });
  if (lines.empty()) throw DataError(fmt::format("data.path \"{}\" has no training text to train a tokenizer on", c.path));
  // At most max_sentences lines, chosen by a fixed-seed partial Fisher-Yates shuffle, so the same
  // corpus always trains the same tokenizer.
  if (int64_t(lines.size()) > c.tokenizer.max_sentences) {
    std::mt19937_64 rng(20261125);
    for (int64_t i = 0; i < c.tokenizer.max_sentences; ++i)
      std::swap(lines[i], lines[i + int64_t(rng() % uint64_t(int64_t(lines.size()) - i))]);
    lines.resize(c.tokenizer.max_sentences);
  }
  spdlog::info("training a SentencePiece {} tokenizer (vocab {}) on {} lines ...", c.tokenizer.type,
               c.tokenizer.vocab_size, lines.size());
  SentencePieceTraining options;
  options.type = c.tokenizer.type;
  options.vocab_size = c.tokenizer.vocab_size;
  options.threads = at::get_num_threads();
  size_t next = 0;
  train_sentencepiece([&](std::string& line) {
    if (next == lines.size()) return false;
    line = std::move(lines[next++]);
    return true;
  }, options, model.string());
}

json build_cache(const DataConfig& c, const std::string& format, const json& source, const fs::path& prefix) {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const Tokenizer> tokenizer = byte_tokenizer();
  json tokenizer_json = tokenizer->describe();
  if (c.tokenizer.kind == "sentencepiece") {
    fs::path model = c.tokenizer.model;
    if (model.empty()) {
      model = with_suffix(prefix, ".model");
      train_tokenizer(c, format, source, model);
    }
    const std::string model_hash = file_hash(model);  // the cache holds a lock, so this is the file loaded
    tokenizer = load_sentencepiece(model.string());
    tokenizer_json = tokenizer->describe();
    tokenizer_json["model"] = fs::absolute(model).lexically_normal().string();
    tokenizer_json["model_hash"] = model_hash;
    if (c.tokenizer.model.empty())
      tokenizer_json["trained_on"] = {{"type", c.tokenizer.type}, {"max_sentences", c.tokenizer.max_sentences},
                                      {"split", "training documents only"}};
  }
  const TokenFormat width = token_format(tokenizer->vocab());
  TokenWriter train(with_suffix(prefix, ".train.tokens"), width), held(with_suffix(prefix, ".held_out.tokens"), width);

  // Documents are cut after a newline into ~1 MiB pieces and encoded in parallel, in batches.
  // That is exact for bytes and for models trained here (no dummy prefix; a newline is always a
  // token of its own); a loaded model may add a prefix at each piece, so it gets whole documents.
  const size_t chunk_bytes = c.tokenizer.model.empty() ? kEncodeChunkBytes : std::numeric_limits<size_t>::max();
  struct Piece {
    std::string text;
    bool held_out;
  };
  std::vector<Piece> batch;
  size_t batch_bytes = 0;
  int64_t documents = 0, held_out_documents = 0, held_out_bytes = 0;
  auto flush = [&] {
    std::vector<std::vector<int32_t>> ids(batch.size());
    at::parallel_for(0, int64_t(batch.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) tokenizer->encode(batch[i].text, ids[i]);
    });
    for (size_t i = 0; i < batch.size(); ++i) (batch[i].held_out ? held : train).append(ids[i]);
    batch.clear();
    batch_bytes = 0;
  };
  std::string previous;
  for_each_document(c, format, [&](const std::string& where, std::string_view text, bool held_out, int64_t first_line) {
    if (tokenizer->needs_utf8()) check_utf8(where, text, first_line);
    if (where != previous) {  // a single text file arrives as two parts of one document
      ++documents;
      held_out_documents += held_out;
      previous = where;
    }
    if (held_out) held_out_bytes += int64_t(text.size());
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = text.size() - begin > chunk_bytes ? begin + chunk_bytes : text.size();
      if (end < text.size()) {
        const auto nl = text.find('\n', end);
        end = nl == std::string_view::npos ? text.size() : nl + 1;
      }
      batch.push_back({std::string(text.substr(begin, end - begin)), held_out});
      batch_bytes += end - begin;
      begin = end;
      if (batch_bytes >= kEncodeBatchBytes) flush();
    }
  });
  flush();
  train.finish();
  held.finish();

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  json manifest = {
      {"schema", kCacheSchema},
      {"source", source},
      {"split", {{"rule", split_rule(format, c.held_out_fraction)}, {"held_out_fraction", c.held_out_fraction},
                 {"documents", documents}, {"held_out_documents", held_out_documents},
                 {"held_out_bytes", held_out_bytes}}},
      {"tokenizer", tokenizer_json},
      {"tokens",
       {{"dtype", width.name},
        {"train", train.count()}, {"held_out", held.count()},
        {"train_file", with_suffix(prefix, ".train.tokens").filename().string()},
        {"held_out_file", with_suffix(prefix, ".held_out.tokens").filename().string()},
        {"train_hash", train.hash()}, {"held_out_hash", held.hash()}}},
      {"build_seconds", seconds}};
  if (format == "jsonl") manifest["source"]["field"] = c.field;
  const fs::path path = with_suffix(prefix, ".json");
  write_json_atomic(path.string(), manifest);  // written last: a manifest means a complete cache
  spdlog::info("token cache {}: {} train + {} held-out tokens in {:.1f}s", path.string(), train.count(), held.count(),
               seconds);
  return manifest;
}

// An exclusive flock on the cache entry, released when the object goes away.
class CacheLock {
 public:
  explicit CacheLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT, 0644)) {
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0)
      throw DataError(fmt::format("cannot lock token cache \"{}\" (data.cache_dir)", path.string()));
  }
  ~CacheLock() { ::close(fd_); }
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;

 private:
  int fd_;
};

json read_manifest(const fs::path& path) {
  if (!fs::exists(path)) return nullptr;
  json manifest = json::parse(read_file(path), nullptr, false);
  return manifest.is_discarded() ? json(nullptr) : manifest;
}

}  // namespace

Corpus load_corpus(const DataConfig& c) {
  const std::string format = c.format == "auto" ? detect_format(c.path) : c.format;
  if (!fs::exists(c.path)) throw DataError(fmt::format("data.path \"{}\" does not exist", c.path));
  if (format == "bin") return load_bin(c);
  if (c.tokenizer.kind == "sentencepiece" && format == "bytes")
    throw DataError("data.format \"bytes\" reads raw bytes, but data.tokenizer.kind \"sentencepiece\" needs text "
                    "(use data.format \"text\")");
  if (!c.tokenizer.model.empty() && !fs::exists(c.tokenizer.model))
    throw DataError(fmt::format("data.tokenizer.model \"{}\" does not exist", c.tokenizer.model));

  const json source = source_state(c, format);
  const fs::path prefix = cache_prefix(c, format);
  // One process checks and builds an entry at a time; a second one waits, then finds it built.
  fs::create_directories(prefix.parent_path());
  const CacheLock lock(with_suffix(prefix, ".lock"));
  json manifest = read_manifest(with_suffix(prefix, ".json"));
  if (const std::string why = stale_reason(manifest, source, prefix); !why.empty()) {
    spdlog::info("tokenizing {} into {} ({})", c.path, c.cache_dir, why);
    manifest = build_cache(c, format, source, prefix);
  }

  const auto& tok = manifest["tokenizer"];
  const auto& tokens = manifest["tokens"];
  Corpus corpus;
  corpus.tokenizer = tok["kind"] == "bytes" ? byte_tokenizer() : load_sentencepiece(tok["model"]);
  corpus.vocab = corpus.tokenizer->vocab();
  const auto dtype = token_format(corpus.vocab).dtype;
  auto map_part = [&](const char* part) {
    if (tokens[part].get<int64_t>() == 0) return torch::empty({0}, dtype);
    return map_tensor(prefix.parent_path() / tokens[std::string(part) + "_file"].get<std::string>(), dtype);
  };
  corpus.train = map_part("train");
  corpus.held_out = map_part("held_out");
  const auto& split = manifest["split"];
  corpus.summary = {{"path", c.path},
                    {"format", format},
                    {"tokenizer", tok},
                    {"split", split["rule"]},
                    {"documents", split["documents"]},
                    {"held_out_documents", split["held_out_documents"]},
                    {"train_tokens", corpus.train.numel()},
                    {"held_out_tokens", corpus.held_out.numel()},
                    {"held_out_bytes", split["held_out_bytes"]},
                    {"token_cache", with_suffix(prefix, ".json").string()},
                    {"source_fingerprint", manifest["source"]["fingerprint"]}};
  if (corpus.held_out.numel() > 0)
    corpus.summary["held_out_bytes_per_token"] = split["held_out_bytes"].get<double>() / double(corpus.held_out.numel());
  return corpus;
}

torch::Tensor token_ids(const torch::Tensor& stored) {
  auto ids = stored.to(torch::kInt64);
  return stored.scalar_type() == torch::kInt16 ? ids.bitwise_and(0xFFFF) : ids;
}

torch::Tensor sample_windows(const torch::Tensor& stream, int64_t batch, int64_t length, uint64_t seed,
                             int64_t step) {
  const int64_t span = length + 1;
  if (stream.numel() < span + 1)
    throw DataError(fmt::format("the training stream has {} tokens, fewer than one window of {}",
                                stream.numel(), span));
  auto gen = at::detail::createCPUGenerator(seed * 1000003ull + uint64_t(step));
  auto starts = torch::randint(stream.numel() - span, {batch, 1}, gen, torch::kInt64);
  return token_ids(stream.index({starts + torch::arange(span, torch::kInt64)}));
}

}  // namespace lb
