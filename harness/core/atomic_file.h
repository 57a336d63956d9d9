// Files written whole or not at all (to PATH.tmp<pid>, then renamed; a failed write removes
// the temp file and leaves PATH as it was), and JSON read back with
// errors that name the file. Used by every layer that persists state: token cache, checkpoints,
// reports.
#pragma once
#include <nlohmann/json.hpp>
#include <cstddef>
#include <string>

namespace lb {

// Creates `dir` (and parents); a file in its place is an InputError naming it as `what`.
void ensure_directory(const std::string& dir, const std::string& what);
// Indented (2 spaces), or compact when the compact text passes kCompactJsonBytes (a task report's
// per-instance arrays reach tens of MB indented), so committed reports stay small. A large report
// is serialized once; only small ones are serialized twice.
constexpr size_t kCompactJsonBytes = size_t(1) << 20;
void write_json_atomic(const std::string& path, const nlohmann::json& value);
void write_text_atomic(const std::string& path, const std::string& text);
nlohmann::json read_json_file(const std::string& path);  // throws naming the file

}  // namespace lb
