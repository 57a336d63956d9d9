#include "harness/run/config_load.h"

#include <fmt/format.h>

#include "harness/data/config_check.h"
#include "harness/eval/config_check.h"
#include "harness/model/config_check.h"
#include "harness/report/claims_check.h"
#include "harness/train/config_check.h"

namespace lb {

Config parse_config(const nlohmann::json& user) {
  Config c = read_config(user);
  check_train_config(c);
  check_data_config(c);
  check_model_config(c);
  check_eval_config(c);
  check_claims_config(c);
  return c;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  const nlohmann::json user = read_config_file(path, overrides);
  try {
    return parse_config(user);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace lb
