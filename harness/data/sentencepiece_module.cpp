// The only code that touches SentencePiece, built as a module that tokenizer.cpp loads with
// dlopen(RTLD_LOCAL | RTLD_DEEPBIND). Debian's libsentencepiece carries its own copy of
// protobuf-lite and exports it; linked into the same process as libtorch (which uses the system
// libprotobuf), the two copies interpose and the process crashes before main(). Loaded locally
// and deep-bound, each library keeps its own protobuf.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <vector>

namespace {

class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  LineIterator(bool (*next)(void*, std::string*), void* context) : next_(next), context_(context) { Next(); }
  bool done() const override { return done_; }
  void Next() override { done_ = !next_(context_, &line_); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  bool (*next_)(void*, std::string*);
  void* context_;
  std::string line_;
  bool done_ = false;
};

}  // namespace

extern "C" {

void* lb_spm_load(const std::string* path, std::string* error) {
  auto* processor = new sentencepiece::SentencePieceProcessor();
  const auto status = processor->Load(*path);
  if (status.ok()) return processor;
  *error = status.ToString();
  delete processor;
  return nullptr;
}

void lb_spm_free(void* processor) { delete static_cast<sentencepiece::SentencePieceProcessor*>(processor); }

int64_t lb_spm_vocab(const void* processor) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->GetPieceSize();
}

bool lb_spm_encode(const void* processor, const char* text, size_t size, std::vector<int>* ids, std::string* error) {
  const auto status =
      static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->Encode(std::string_view(text, size), ids);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

void lb_spm_decode(const void* processor, const std::vector<int>* ids, std::string* text) {
  static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->Decode(*ids, text).IgnoreError();
}

bool lb_spm_train(const std::string* args, bool (*next)(void*, std::string*), void* context, std::string* model_proto,
                  std::string* error) {
  LineIterator lines(next, context);
  const auto status = sentencepiece::SentencePieceTrainer::Train(*args, &lines, model_proto);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

}  // extern "C"
