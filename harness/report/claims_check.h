// The report layer's part of config validation: "claims" (what a claim means:
// harness/report/claims.h), checked against the config's run names, eval lengths and protocols.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/config/config.h"

namespace lb {

// Every key a claim may have, with what it means (errors and docs read this table).
struct ClaimKey {
  const char* name;
  const char* meaning;
};
const std::vector<ClaimKey>& claim_keys();

// Throws ConfigError naming the entry. `protocols`: what the config scores ("task" for task data).
void validate_claims(const nlohmann::json& claims, const std::vector<std::string>& run_names,
                     const std::vector<double>& lengths, const std::vector<std::string>& protocols,
                     const std::vector<std::string>& tasks = {});
// The same against a parsed config.
void check_claims_config(const Config& c);

}  // namespace lb
