#include "harness/config/vocab.h"

namespace lb {

const std::vector<Named<Protocol>>& Vocabulary<Protocol>::entries() {
  static const std::vector<Named<Protocol>> table = {
      {Protocol::kNonoverlapping, "nonoverlapping", "windows of T tokens side by side; every token scored once"},
      {Protocol::kSliding, "sliding", "windows of T sliding by the stride; every scored token has >= T - stride context"},
      {Protocol::kRecurrent, "recurrent",
       "windows of T read segment by segment (L tokens each) with the model's memory of earlier segments (txl)"},
      {Protocol::kTask, "task", "synthetic task instances of T + 1 tokens, scored by exact match on the answer"},
  };
  return table;
}

const std::vector<Named<Precision>>& Vocabulary<Precision>::entries() {
  static const std::vector<Named<Precision>> table = {
      {Precision::kAuto, "auto", "the faster of bf16 and fp32 on this machine (bf16 only where it is native)"},
      {Precision::kBf16, "bf16", "bf16 autocast (fp32 weights and optimizer)"},
      {Precision::kFp32, "fp32", "fp32 throughout"},
  };
  return table;
}

const std::vector<Named<DeviceChoice>>& Vocabulary<DeviceChoice>::entries() {
  static const std::vector<Named<DeviceChoice>> table = {
      {DeviceChoice::kAuto, "auto", "CUDA when the libtorch in use has a device, else the CPU"},
      {DeviceChoice::kCpu, "cpu", "the CPU"},
      {DeviceChoice::kCuda, "cuda", "a CUDA device (needs a CUDA build of libtorch)"},
  };
  return table;
}

const std::vector<Named<SampleKind>>& Vocabulary<SampleKind>::entries() {
  static const std::vector<Named<SampleKind>> table = {
      {SampleKind::kStream, "stream", "chunks from the whole held-out split, in proportion to document length"},
      {SampleKind::kDocuments, "documents", "one chunk from each long-enough held-out document (long-context papers)"},
  };
  return table;
}

const std::vector<Named<AttentionKind>>& Vocabulary<AttentionKind>::entries() {
  static const std::vector<Named<AttentionKind>> table = {
      {AttentionKind::kSoftmax, "softmax", "softmax over the scores (every encoding)"},
      {AttentionKind::kLinear, "linear",
       "causal linear attention, phi(x) = elu(x) + 1, in chunked prefix-sum form: cost linear in T (Katharopoulos et "
       "al. 2020); positions from nope, rope, sinusoidal or learned"},
  };
  return table;
}

const std::vector<Named<TokenizerKind>>& Vocabulary<TokenizerKind>::entries() {
  static const std::vector<Named<TokenizerKind>> table = {
      {TokenizerKind::kBytes, "bytes", "one token per byte (vocabulary 256)"},
      {TokenizerKind::kSentencePiece, "sentencepiece", "a SentencePiece model, given or trained on the training split"},
  };
  return table;
}

const std::vector<Protocol>& text_protocols() {
  static const std::vector<Protocol> protocols = {Protocol::kNonoverlapping, Protocol::kSliding, Protocol::kRecurrent};
  return protocols;
}

}  // namespace lb
