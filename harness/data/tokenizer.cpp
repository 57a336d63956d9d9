#include "harness/data/tokenizer.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <filesystem>
#include <mutex>

#include "harness/core/atomic_file.h"

namespace lb {

namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  int64_t vocab() const override { return 256; }
  void encode(std::string_view text, std::vector<int32_t>& out) const override {
    for (unsigned char c : text) out.push_back(c);
  }
  std::string decode(const std::vector<int32_t>& ids) const override { return std::string(ids.begin(), ids.end()); }
  nlohmann::json describe() const override { return {{"kind", "bytes"}, {"vocab", 256}}; }
  bool needs_utf8() const override { return false; }
};

// The SentencePiece module (harness/sentencepiece_module.cpp), loaded once; see there for why.
struct SentencePieceModule {
  void* (*load)(const std::string*, std::string*);
  void (*free)(void*);
  int64_t (*vocab)(const void*);
  bool (*encode)(const void*, const char*, size_t, std::vector<int>*, std::string*);
  void (*decode)(const void*, const std::vector<int>*, std::string*);
  bool (*train)(const std::string*, bool (*)(void*, std::string*), void*, std::string*, std::string*);
};

const SentencePieceModule& sentencepiece_module() {
  static SentencePieceModule module;
  static std::once_flag once;
  std::call_once(once, [] {
    // Built beside the executables; LENGTHBENCH_SPM_MODULE is its path in the build tree.
    std::vector<std::string> candidates = {LENGTHBENCH_SPM_MODULE};
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back((exe.parent_path() / std::filesystem::path(LENGTHBENCH_SPM_MODULE).filename()).string());
    void* handle = nullptr;
    std::string errors;
    for (const auto& path : candidates) {
      handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (handle) break;
      errors += fmt::format("\n  {}", ::dlerror());
    }
    if (!handle) throw std::runtime_error("cannot load the SentencePiece module (rebuild lengthbench):" + errors);
    auto symbol = [&](const char* name) {
      void* p = ::dlsym(handle, name);
      if (!p) throw std::runtime_error(fmt::format("the SentencePiece module lacks {} (rebuild lengthbench)", name));
      return p;
    };
    module.load = reinterpret_cast<decltype(module.load)>(symbol("lb_spm_load"));
    module.free = reinterpret_cast<decltype(module.free)>(symbol("lb_spm_free"));
    module.vocab = reinterpret_cast<decltype(module.vocab)>(symbol("lb_spm_vocab"));
    module.encode = reinterpret_cast<decltype(module.encode)>(symbol("lb_spm_encode"));
    module.decode = reinterpret_cast<decltype(module.decode)>(symbol("lb_spm_decode"));
    module.train = reinterpret_cast<decltype(module.train)>(symbol("lb_spm_train"));
  });
  return module;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : module_(sentencepiece_module()), path_(path) {
    std::string error;
    processor_ = module_.load(&path, &error);
    if (!processor_) throw std::runtime_error(fmt::format("cannot load SentencePiece model \"{}\": {}", path, error));
  }
  ~SentencePieceTokenizer() override { module_.free(processor_); }
  int64_t vocab() const override { return module_.vocab(processor_); }
  void encode(std::string_view text, std::vector<int32_t>& out) const override {
    std::vector<int> ids;
    std::string error;
    if (!module_.encode(processor_, text.data(), text.size(), &ids, &error))
      throw std::runtime_error("SentencePiece encoding failed: " + error);
    out.insert(out.end(), ids.begin(), ids.end());
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    const std::vector<int> in(ids.begin(), ids.end());
    std::string text;
    module_.decode(processor_, &in, &text);
    return text;
  }
  nlohmann::json describe() const override {
    return {{"kind", "sentencepiece"}, {"vocab", vocab()}, {"model", path_}};
  }
  bool needs_utf8() const override { return true; }

 private:
  const SentencePieceModule& module_;
  std::string path_;
  void* processor_ = nullptr;
};

}  // namespace

std::shared_ptr<const Tokenizer> byte_tokenizer() {
  static const auto instance = std::make_shared<ByteTokenizer>();
  return instance;
}

std::shared_ptr<const Tokenizer> load_sentencepiece(const std::string& model_path) {
  return std::make_shared<SentencePieceTokenizer>(model_path);
}

void train_sentencepiece(const std::function<bool(std::string&)>& next_line, const SentencePieceTraining& o,
                         const std::string& model_path) {
  // Whitespace and newlines are content for a language model (code indentation above all):
  // nothing is normalized away, and characters outside the vocabulary fall back to bytes.
  const std::string args = fmt::format(
      "--model_type={} --vocab_size={} --input_sentence_size=0 --shuffle_input_sentence=false "
      "--normalization_rule_name=identity --remove_extra_whitespaces=false --allow_whitespace_only_pieces=true "
      "--split_digits=true --byte_fallback=true --add_dummy_prefix=false --character_coverage=0.9995 --max_sentence_length=16384 "
      "--num_threads={} --minloglevel=2",
      o.type, o.vocab_size, std::max(1, o.threads));
  auto pull = [](void* context, std::string* line) {
    return (*static_cast<const std::function<bool(std::string&)>*>(context))(*line);
  };
  std::string proto, error;
  if (!sentencepiece_module().train(&args, pull, const_cast<std::function<bool(std::string&)>*>(&next_line), &proto, &error))
    throw std::runtime_error(fmt::format("SentencePiece training failed (data.tokenizer: type {}, vocab_size {}): {}",
                                         o.type, o.vocab_size, error));
  write_text_atomic(model_path, proto);
}

size_t invalid_utf8_offset(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t min_code;
    if ((c & 0xE0) == 0xC0) len = 2, min_code = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, min_code = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, min_code = 0x10000;
    else return i;
    if (i + len > n) return i;
    uint32_t code = c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (code < min_code || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace lb
