// The config reference, generated from the config's own field lists (harness/config/config.h):
// every key with its JSON type, default and, for vocabularies, the allowed words. docs/reference/
// config.md is this text (`lengthbench reference config`); a test fails when the two differ.
#pragma once
#include <string>

namespace lb {

std::string config_reference_markdown();

}  // namespace lb
