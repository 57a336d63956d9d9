// Text sources: the documents a data.path holds (one text file, a directory of files, JSONL
// lines), their deterministic train / held-out split, UTF-8 checks, a fingerprint of the source's
// state, and nanoGPT .bin token files.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/config/config.h"
#include "harness/data/files.h"

namespace lb {

// Deterministic held-out membership of a document by name (FNV-1a hash), stable under additions.
bool is_held_out(const std::string& document, double fraction);
// "bin", "dir", "jsonl" or "text", from what data.path is.
std::string detect_format(const std::string& path);
// The split rule in words, for the report.
std::string split_rule(const std::string& format, double fraction);

// `where` names the document in errors (a file, or file:line for JSONL); `first_line` is the line
// number of the text's first line within that file.
using DocumentVisitor =
    std::function<void(const std::string& where, std::string_view text, bool held_out, int64_t first_line)>;
// Visits every document (a single file's two parts, each file of a directory, each JSONL line)
// in a fixed order, with its split already decided. At most one document is in memory at a time.
void for_each_document(const DataConfig& c, const std::string& format, const DocumentVisitor& visit);

// Throws DataError naming the file, line and byte of the first invalid UTF-8 sequence.
void check_utf8(const std::string& where, std::string_view text, int64_t first_line);

// What a token cache is valid for: every source file's name, size and modification time.
nlohmann::json source_state(const DataConfig& c, const std::string& format);

// Memory-maps a nanoGPT uint16 token file and checks every id against the declared vocabulary.
torch::Tensor read_bin(const std::filesystem::path& path, int64_t vocab);

}  // namespace lb
