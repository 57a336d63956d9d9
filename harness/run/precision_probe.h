// What precision "auto" is on this machine, measured: training steps of the run's own model in
// bf16 and in fp32, timed alternately, the best of each kept. The rates are recorded beside the
// token cache (<data.cache_dir>/precision/, one file per CPU model, CPU flags, libtorch version,
// thread count and model shape), so every later run on the machine makes the same choice instead
// of flipping on timing noise; delete the file to measure again.
#pragma once
#include <string>

#include "harness/config/config.h"
#include "harness/core/hardware.h"
#include "harness/data/sampler.h"
#include "harness/model/precision.h"

namespace lb {

// The record's path for this config's model on this machine.
std::string precision_record_path(const Config& c, const RunSpec& run, int64_t vocab, const Hardware& hw, int threads);
// The recorded rates, or new measurements (then recorded).
PrecisionRates precision_rates(const Config& c, const RunSpec& run, const BatchSource& batches, int64_t vocab,
                               int64_t max_length, const Hardware& hw, int threads);

}  // namespace lb
