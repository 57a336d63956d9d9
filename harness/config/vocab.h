// The configuration's vocabularies: each an enum with its one name table (harness/core/vocab.h),
// read by the config parser, the command line, listings and error messages alike.
#pragma once
#include <vector>

#include "harness/core/vocab.h"

namespace lb {

// How an evaluation length is scored (harness/eval/windows.h): text protocols, or task instances.
enum class Protocol { kNonoverlapping, kSliding, kRecurrent, kTask };
// How attention combines keys: softmax over scores, or causal kernelized (linear) attention.
enum class AttentionKind { kSoftmax, kLinear };
// The precision a run computes in; auto = the faster of the two on this machine.
enum class Precision { kAuto, kBf16, kFp32 };
enum class DeviceChoice { kAuto, kCpu, kCuda };
// Which held-out tokens the evaluation scores (harness/eval/windows.h).
enum class SampleKind { kStream, kDocuments };
enum class TokenizerKind { kBytes, kSentencePiece };

template <>
struct Vocabulary<Protocol> {
  static constexpr const char* what = "protocol";
  static const std::vector<Named<Protocol>>& entries();
};
template <>
struct Vocabulary<Precision> {
  static constexpr const char* what = "precision";
  static const std::vector<Named<Precision>>& entries();
};
template <>
struct Vocabulary<DeviceChoice> {
  static constexpr const char* what = "device";
  static const std::vector<Named<DeviceChoice>>& entries();
};
template <>
struct Vocabulary<SampleKind> {
  static constexpr const char* what = "sample";
  static const std::vector<Named<SampleKind>>& entries();
};
template <>
struct Vocabulary<AttentionKind> {
  static constexpr const char* what = "attention";
  static const std::vector<Named<AttentionKind>>& entries();
};
template <>
struct Vocabulary<TokenizerKind> {
  static constexpr const char* what = "tokenizer kind";
  static const std::vector<Named<TokenizerKind>>& entries();
};

// The protocols that score text (eval.protocols); kTask is what task data is scored by.
const std::vector<Protocol>& text_protocols();

}  // namespace lb
