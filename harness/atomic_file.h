// Files written whole or not at all (to PATH.tmp, then renamed), and JSON read back with
// errors that name the file. Used by every layer that persists state: token cache, checkpoints,
// reports.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lb {

void write_json_atomic(const std::string& path, const nlohmann::json& value);
void write_text_atomic(const std::string& path, const std::string& text);
nlohmann::json read_json_file(const std::string& path);  // throws naming the file

}  // namespace lb
