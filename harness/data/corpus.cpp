#include "harness/data/corpus.h"

#include <fmt/format.h>
#include <cstring>
#include <filesystem>

#include "harness/core/atomic_file.h"
#include "harness/data/sources.h"
#include "harness/data/tasks.h"
#include "harness/data/token_cache.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

static Corpus load_bin(const DataConfig& c) {
  if (c.vocab_size <= 0)
    throw DataError("data.format \"bin\" needs data.vocab_size (the tokenizer's vocabulary size)");
  if (c.tokenizer.kind != TokenizerKind::kBytes)
    throw DataError("data.format \"bin\" is already tokenized; data.tokenizer.kind must stay \"bytes\" (the default)");
  const fs::path dir = fs::is_directory(c.path) ? fs::path(c.path) : fs::path(c.path).parent_path();
  Corpus corpus;
  corpus.train = read_bin(dir / "train.bin", c.vocab_size);
  corpus.held_out = read_bin(dir / "val.bin", c.vocab_size);
  corpus.vocab = c.vocab_size;
  corpus.held_out_documents = {0};
  corpus.summary = {{"path", c.path},
                    {"format", "bin"},
                    {"tokenizer", {{"kind", "pre-tokenized uint16"}, {"vocab", c.vocab_size}}},
                    {"split", "train.bin / val.bin as given"},
                    {"held_out_documents", 1},
                    {"document_boundaries", "none in .bin files: val.bin counts as one document"},
                    {"train_tokens", corpus.train.numel()},
                    {"held_out_tokens", corpus.held_out.numel()}};
  return corpus;
}

Corpus load_training_data(const Config& c) {
  if (c.data.is_task()) {
    Corpus corpus;
    corpus.vocab = kTaskVocab;
    corpus.train = corpus.held_out = torch::empty({0}, torch::kUInt8);
    corpus.summary = {{"format", "synthetic tasks"}, {"tokenizer", {{"kind", "tasks"}, {"vocab", kTaskVocab}}},
                      {"task", c.resolved.at("data").at("task")}};
    corpus.batches = task_batches(c.data.task, c.train.length);
    return corpus;
  }
  Corpus corpus = load_corpus(c.data);
  corpus.batches = stream_batches(corpus.train);
  if (c.data.passkey_mix > 0) {
    if (!corpus.tokenizer)
      throw ConfigError("config key \"data.passkey_mix\": passkey prompts are text, but data.path holds "
                        "pre-tokenized ids with no tokenizer");
    corpus.batches = with_passkey_rows(corpus.batches, c.data.passkey_mix, corpus.tokenizer, c.eval.passkey.digits);
    corpus.summary["passkey_mix"] = c.data.passkey_mix;
  }
  return corpus;
}

Corpus load_corpus(const DataConfig& c) {
  const std::string format = c.format == "auto" ? detect_format(c.path) : c.format;
  if (!fs::exists(c.path)) throw DataError(fmt::format("data.path \"{}\" does not exist", c.path));
  // The path must be of the kind its format reads.
  const bool wants_directory = format == "dir";
  if (format != "bin" && fs::is_directory(c.path) != wants_directory)
    throw DataError(fmt::format("data.path \"{}\" is a {}, but data.format \"{}\" reads a {}", c.path,
                                fs::is_directory(c.path) ? "directory" : "file", format,
                                wants_directory ? "directory of text files" : "file"));
  if (!c.tokenizer.model.empty() && fs::is_directory(c.tokenizer.model))
    throw DataError(fmt::format("data.tokenizer.model \"{}\" is a directory; expected a SentencePiece .model file",
                                c.tokenizer.model));
  ensure_directory(c.cache_dir, "data.cache_dir");
  if (format == "bin") return load_bin(c);
  if (c.tokenizer.kind == TokenizerKind::kSentencePiece && format == "bytes")
    throw DataError("data.format \"bytes\" reads raw bytes, but data.tokenizer.kind \"sentencepiece\" needs text "
                    "(use data.format \"text\")");
  if (!c.tokenizer.model.empty() && !fs::exists(c.tokenizer.model))
    throw DataError(fmt::format("data.tokenizer.model \"{}\" does not exist", c.tokenizer.model));

  const TokenCacheEntry cache = open_token_cache(c, format);
  const json& manifest = cache.manifest;
  const auto& tok = manifest["tokenizer"];
  const auto& tokens = manifest["tokens"];
  Corpus corpus;
  corpus.tokenizer = tok["kind"] == "bytes" ? byte_tokenizer() : load_sentencepiece(tok["model"]);
  corpus.vocab = corpus.tokenizer->vocab();
  const auto dtype = token_format(corpus.vocab).dtype;
  auto map_part = [&](const char* part) {
    if (tokens[part].get<int64_t>() == 0) return torch::empty({0}, dtype);
    return map_tensor(cache.file(part), dtype);
  };
  corpus.train = map_part("train");
  corpus.held_out = map_part("held_out");
  const std::string starts = read_file(cache.file("held_out_documents"));
  corpus.held_out_documents.resize(starts.size() / sizeof(int64_t));
  std::memcpy(corpus.held_out_documents.data(), starts.data(), starts.size());
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
                    {"token_cache", cache.prefix.string() + ".json"},
                    {"source_fingerprint", manifest["source"]["fingerprint"]}};
  if (corpus.held_out.numel() > 0)
    corpus.summary["held_out_bytes_per_token"] = split["held_out_bytes"].get<double>() / double(corpus.held_out.numel());
  return corpus;
}

}  // namespace lb
