#include "harness/report/files.h"

#include <fmt/format.h>
#include <stdexcept>

#include "harness/core/schema.h"
#include "harness/core/errors.h"

namespace lb {

using nlohmann::json;

json read_report(const std::string& path) {
  json r = read_json_file(path);
  if (!r.is_object() || r.value(key::schema, "") != kReportSchema)
    throw InputError(fmt::format("\"{}\" is not a lengthbench report (schema {} expected)", path, kReportSchema));
  return r;
}

}  // namespace lb
