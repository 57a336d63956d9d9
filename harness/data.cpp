#include "harness/data.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_held_out(const std::string& document, double fraction) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : document) h = (h ^ c) * 1099511628211ull;
  return double(h % 1000000) < fraction * 1e6;
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

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("cannot read data file \"{}\"", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Takes ownership of the bytes: the tensor views the string's buffer, so a corpus is never held
// twice in memory.
torch::Tensor bytes_tensor(std::string&& bytes) {
  auto owner = std::make_shared<std::string>(std::move(bytes));
  return torch::from_blob(owner->data(), {int64_t(owner->size())}, [owner](void*) {}, torch::kUInt8);
}

// A document list split by name into two byte streams.
struct Split {
  std::string train, held_out;
  int64_t documents = 0, held_out_documents = 0;
};

void add_document(Split& split, const std::string& name, const std::string& text, double fraction) {
  ++split.documents;
  if (is_held_out(name, fraction)) {
    ++split.held_out_documents;
    split.held_out += text;
  } else {
    split.train += text;
  }
}

// One document: the held-out part is its tail, cut at a line boundary.
Split split_single(const std::string& text, double fraction) {
  size_t cut = size_t(double(text.size()) * (1.0 - fraction));
  const auto nl = text.find('\n', cut);
  if (nl != std::string::npos && nl + 1 < text.size()) cut = nl + 1;
  return {text.substr(0, cut), text.substr(cut), 1, 0};
}

// Memory-maps a nanoGPT uint16 token file. libtorch 1.13 has no uint16 dtype, so the tensor is
// int16 over the same bytes; token_ids() reads ids >= 32768 back correctly.
torch::Tensor read_bin(const fs::path& path, int64_t vocab) {
  if (!fs::exists(path)) throw DataError(fmt::format("token file \"{}\" does not exist", path.string()));
  const auto size = fs::file_size(path);
  if (size % 2 != 0)
    throw DataError(fmt::format("token file \"{}\" has an odd size ({} bytes); expected uint16 tokens",
                                path.string(), size));
  if (size == 0) throw DataError(fmt::format("token file \"{}\" is empty", path.string()));
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw DataError(fmt::format("cannot read token file \"{}\"", path.string()));
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) throw DataError(fmt::format("cannot map token file \"{}\"", path.string()));
  auto tokens = torch::from_blob(data, {int64_t(size / 2)}, [size](void* p) { ::munmap(p, size); }, torch::kInt16);
  int64_t max_token = 0;
  const int64_t chunk = 1 << 24;  // bounded temporary memory while validating
  for (int64_t i = 0; i < tokens.numel(); i += chunk)
    max_token = std::max(max_token, token_ids(tokens.narrow(0, i, std::min(chunk, tokens.numel() - i))).max().item<int64_t>());
  if (max_token >= vocab)
    throw DataError(fmt::format("token file \"{}\" holds token {} but data.vocab_size is {}",
                                path.string(), max_token, vocab));
  return tokens;
}

}  // namespace

Corpus load_corpus(const DataConfig& config) {
  std::string format = config.format == "auto" ? detect_format(config.path) : config.format;
  if (!fs::exists(config.path))
    throw DataError(fmt::format("data.path \"{}\" does not exist", config.path));
  const double fraction = config.held_out_fraction;
  Corpus corpus;
  corpus.summary = {{"path", config.path}, {"format", format}, {"tokenizer", "bytes"}};
  Split split;
  if (format == "text" || format == "bytes") {
    const std::string text = read_file(config.path);
    if (text.empty()) throw DataError(fmt::format("data file \"{}\" is empty", config.path));
    split = split_single(text, fraction);
    corpus.summary["split"] = fmt::format("last {:.1f}% of the file, cut at a line boundary", fraction * 100);
  } else if (format == "dir") {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(config.path))
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw DataError(fmt::format("data directory \"{}\" holds no files", config.path));
    for (const auto& f : files)
      add_document(split, fs::relative(f, config.path).string(), read_file(f), fraction);
    corpus.summary["split"] = fmt::format(
        "each file is a document; held out if FNV-1a(relative path) mod 1e6 < {:.0f}", fraction * 1e6);
  } else if (format == "jsonl") {
    std::ifstream in(config.path);
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json doc = json::parse(line, nullptr, false);
      if (doc.is_discarded())
        throw DataError(fmt::format("{}:{}: line is not valid JSON", config.path, line_no));
      if (!doc.is_object() || !doc.contains(config.field) || !doc[config.field].is_string())
        throw DataError(fmt::format("{}:{}: no string field \"{}\" (set data.field)", config.path, line_no, config.field));
      add_document(split, std::to_string(line_no), doc[config.field].get<std::string>() + "\n", fraction);
    }
    corpus.summary["split"] = fmt::format(
        "each line is a document; held out if FNV-1a(line number) mod 1e6 < {:.0f}", fraction * 1e6);
  } else if (format == "bin") {
    if (config.vocab_size <= 0)
      throw DataError("data.format \"bin\" needs data.vocab_size (the tokenizer's vocabulary size)");
    fs::path dir = fs::is_directory(config.path) ? fs::path(config.path) : fs::path(config.path).parent_path();
    corpus.train = read_bin(dir / "train.bin", config.vocab_size);
    corpus.held_out = read_bin(dir / "val.bin", config.vocab_size);
    corpus.vocab = config.vocab_size;
    corpus.summary["tokenizer"] = fmt::format("pre-tokenized uint16, vocab {}", config.vocab_size);
    corpus.summary["split"] = "train.bin / val.bin as given";
  } else {
    throw DataError(fmt::format("data.format \"{}\" is not one of: auto, text, dir, jsonl, bin, bytes", format));
  }
  if (format != "bin") {
    corpus.train = bytes_tensor(std::move(split.train));
    corpus.held_out = bytes_tensor(std::move(split.held_out));
    corpus.summary["documents"] = split.documents;
    corpus.summary["held_out_documents"] = split.held_out_documents;
  }
  corpus.summary["train_tokens"] = corpus.train.numel();
  corpus.summary["held_out_tokens"] = corpus.held_out.numel();
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
