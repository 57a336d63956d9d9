// Tokenizers: byte-level (the default; vocab 256, any input) and SentencePiece (a trained or
// loaded .model; lossless: identity normalization, whitespace kept, byte fallback). The
// SentencePiece headers stay inside tokenizer.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lb {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual int64_t vocab() const = 0;
  // Appends the ids of `text` to `out`. Thread-safe.
  virtual void encode(std::string_view text, std::vector<int32_t>& out) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // What the report and the cache manifest record about this tokenizer.
  virtual nlohmann::json describe() const = 0;
  // Whether input must be valid UTF-8 (byte-level tokenization takes any bytes).
  virtual bool needs_utf8() const = 0;

  std::vector<int32_t> encode(std::string_view text) const {
    std::vector<int32_t> ids;
    encode(text, ids);
    return ids;
  }
};

std::shared_ptr<const Tokenizer> byte_tokenizer();

// Loads a SentencePiece model file; throws std::runtime_error naming the file.
std::shared_ptr<const Tokenizer> load_sentencepiece(const std::string& model_path);

struct SentencePieceTraining {
  std::string type = "unigram";  // unigram | bpe
  int64_t vocab_size = 4096;
  int threads = 1;
};

// Trains a SentencePiece model on all the lines `next_line` yields (it returns false when done;
// sample beforehand: SentencePiece's own sampling is seeded from the clock) and writes it to
// `model_path`. Lossless settings: identity normalization, whitespace kept,
// digits split, byte fallback, so decode(encode(x)) == x for any valid UTF-8.
void train_sentencepiece(const std::function<bool(std::string&)>& next_line, const SentencePieceTraining& options,
                         const std::string& model_path);

// Byte offset of the first invalid UTF-8 sequence in `text`, or npos.
size_t invalid_utf8_offset(std::string_view text);

}  // namespace lb
