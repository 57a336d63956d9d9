#include "harness/data/token_cache.h"

#include <ATen/Parallel.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <regex>

#include "harness/data/files.h"
#include "harness/data/sources.h"
#include "harness/data/tokenizer.h"
#include "harness/core/hash.h"
#include "harness/core/atomic_file.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// /2: held-out document boundaries (the evaluation samples and clusters by document).
constexpr const char* kCacheSchema = "lengthbench-token-cache/2";
// SentencePiece trains on lines sampled from at most about this much training text.
constexpr double kTokenizerSampleBytes = 64e6;
// Documents are encoded in pieces of about this size (cut after a newline), in parallel.
constexpr size_t kEncodeChunkBytes = 1 << 20;
constexpr size_t kEncodeBatchBytes = 16 << 20;

// Offsets of the lines of `text` that match `separator` (each line tested without its newline).
std::vector<size_t> separator_lines(std::string_view text, const std::regex& separator) {
  std::vector<size_t> cuts;
  for (size_t begin = 0; begin < text.size();) {
    const size_t nl = text.find('\n', begin), end = nl == std::string_view::npos ? text.size() : nl;
    if (std::regex_search(text.data() + begin, text.data() + end, separator)) cuts.push_back(begin);
    begin = end + 1;
  }
  return cuts;
}

// FNV-1a of a file, read in 1 MiB pieces (token files can be larger than memory should hold twice).
std::string file_hash(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("cannot read \"{}\"", path.string()));
  std::vector<char> buffer(1 << 20);
  uint64_t h = kFnvOffset;
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    h = fnv1a(std::string_view(buffer.data(), size_t(in.gcount())), h);
  }
  return hex64(h);
}

// One cache entry per (source, format, split, tokenizer settings); its manifest then says which
// state of the source and which tokenizer model the tokens came from.
fs::path cache_prefix(const DataConfig& c, const std::string& format) {
  json identity = {{"path", fs::absolute(c.path).lexically_normal().string()},
                   {"format", format},
                   {"held_out_fraction", c.held_out_fraction},
                   {"tokenizer", name_of(c.tokenizer.kind)}};
  if (format == "jsonl") identity["field"] = c.field;
  if (!c.document_separator.empty()) identity["document_separator"] = c.document_separator;
  if (c.tokenizer.kind == TokenizerKind::kSentencePiece) {
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
  return fs::path(c.cache_dir) / fmt::format("{}-{}-{}", stem, name_of(c.tokenizer.kind), hex64(fnv1a(identity.dump())).substr(0, 12));
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
    // Same size but other bytes (a damaged or overwritten file): the recorded hash tells.
    if (file_hash(file) != tokens[std::string(part) + "_hash"])
      return fmt::format("{} does not match its recorded hash (damaged?)", file.string());
  }
  const fs::path documents = prefix.parent_path() / tokens["held_out_documents_file"].get<std::string>();
  if (!fs::exists(documents) ||
      fs::file_size(documents) != manifest["split"]["held_out_documents"].get<size_t>() * sizeof(int64_t))
    return fmt::format("{} is missing or incomplete", documents.string());
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
  std::string hash() const { return hex64(hash_); }

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
  if (c.tokenizer.kind == TokenizerKind::kSentencePiece) {
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
    bool starts_document;
  };
  std::vector<int64_t> held_out_document_starts;  // token offsets in the held-out stream
  std::optional<std::regex> separator;  // checked at config time (data/config_check.cpp)
  if (!c.document_separator.empty()) separator.emplace(c.document_separator, std::regex::ECMAScript | std::regex::optimize);
  std::vector<Piece> batch;
  size_t batch_bytes = 0;
  int64_t documents = 0, held_out_bytes = 0;
  auto flush = [&] {
    std::vector<std::vector<int32_t>> ids(batch.size());
    at::parallel_for(0, int64_t(batch.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) tokenizer->encode(batch[i].text, ids[i]);
    });
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].held_out && batch[i].starts_document) held_out_document_starts.push_back(held.count());
      (batch[i].held_out ? held : train).append(ids[i]);
    }
    batch.clear();
    batch_bytes = 0;
  };
  std::string previous, previous_held;
  for_each_document(c, format, [&](const std::string& where, std::string_view text, bool held_out, int64_t first_line) {
    if (tokenizer->needs_utf8()) check_utf8(where, text, first_line);
    if (where != previous) {  // a single text file arrives as two parts of one document
      ++documents;
      previous = where;
    }
    bool starts_document = held_out && where != previous_held;
    if (starts_document) previous_held = where;
    if (held_out) held_out_bytes += int64_t(text.size());
    // Held-out text: a line matching data.document_separator starts a document of its own.
    const std::vector<size_t> cuts = held_out && separator ? separator_lines(text, *separator) : std::vector<size_t>{};
    size_t begin = 0, next_cut = 0;
    while (begin < text.size()) {
      size_t end = text.size() - begin > chunk_bytes ? begin + chunk_bytes : text.size();
      if (end < text.size()) {
        const auto nl = text.find('\n', end);
        end = nl == std::string_view::npos ? text.size() : nl + 1;
      }
      while (next_cut < cuts.size() && cuts[next_cut] <= begin) ++next_cut;
      if (next_cut < cuts.size() && cuts[next_cut] < end) end = cuts[next_cut];  // a piece ends at a separator line
      batch.push_back({std::string(text.substr(begin, end - begin)), held_out,
                       starts_document || (held_out && std::binary_search(cuts.begin(), cuts.end(), begin))});
      starts_document = false;
      batch_bytes += end - begin;
      begin = end;
      if (batch_bytes >= kEncodeBatchBytes) flush();
    }
  });
  flush();
  train.finish();
  held.finish();
  const fs::path documents_file = with_suffix(prefix, ".held_out.docs");
  write_text_atomic(documents_file.string(),
                    std::string(reinterpret_cast<const char*>(held_out_document_starts.data()),
                                held_out_document_starts.size() * sizeof(int64_t)));
  const int64_t held_out_documents = int64_t(held_out_document_starts.size());

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
        {"held_out_documents_file", documents_file.filename().string()},
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

fs::path TokenCacheEntry::file(const std::string& part) const {
  return prefix.parent_path() / manifest["tokens"][part + "_file"].get<std::string>();
}

TokenCacheEntry open_token_cache(const DataConfig& c, const std::string& format) {
  const json source = source_state(c, format);
  TokenCacheEntry entry;
  entry.prefix = cache_prefix(c, format);
  // One process checks and builds an entry at a time; a second one waits, then finds it built.
  fs::create_directories(entry.prefix.parent_path());
  const CacheLock lock(with_suffix(entry.prefix, ".lock"));
  entry.manifest = read_manifest(with_suffix(entry.prefix, ".json"));
  if (const std::string why = stale_reason(entry.manifest, source, entry.prefix); !why.empty()) {
    spdlog::info("tokenizing {} into {} ({})", c.path, c.cache_dir, why);
    entry.manifest = build_cache(c, format, source, entry.prefix);
  }
  return entry;
}

}  // namespace lb
