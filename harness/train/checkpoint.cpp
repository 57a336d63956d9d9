#include "harness/train/checkpoint.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/core/schema.h"
#include "harness/core/atomic_file.h"
#include "harness/core/errors.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

json TrainStats::to_json() const {
  return {{key::steps, steps},     {key::tokens, tokens},         {key::seconds, seconds},
          {key::tokens_per_second, tokens_per_second},          {key::final_loss, final_loss},
          {key::first_loss, first_loss}};
}

TrainStats TrainStats::from_json(const json& j) {
  TrainStats s;
  s.steps = j.at(key::steps);
  s.tokens = j.at(key::tokens);
  s.seconds = j.at(key::seconds);
  s.tokens_per_second = j.at(key::tokens_per_second);
  s.final_loss = j.at(key::final_loss);
  s.first_loss = j.value(key::first_loss, 0.0);
  return s;
}

namespace {

json read_state(const std::string& prefix) {
  std::ifstream in(prefix + ".json");
  if (!in) return nullptr;
  json state = json::parse(in, nullptr, false);
  return state.is_discarded() ? json(nullptr) : state;
}

std::string checkpoint_file(const std::string& prefix, const json& state, const char* key) {
  return (fs::path(prefix).parent_path() / state.at(key).get<std::string>()).string();
}

// A checkpoint that cannot be read is renamed *.<suffix> (kept for inspection, never loaded again).
void set_aside(const std::string& prefix, const json& state, const std::string& suffix) {
  std::error_code ec;
  for (const char* key : {"model_file", "optim_file"})
    if (state.is_object() && state.contains(key) && state[key].is_string()) {
      const auto file = checkpoint_file(prefix, state, key);
      fs::rename(file, file + "." + suffix, ec);
    }
  fs::rename(prefix + ".json", prefix + ".json." + suffix, ec);
}

}  // namespace

CheckpointState read_checkpoint(const std::string& prefix, const json& identity) {
  CheckpointState out;
  if (prefix.empty()) return out;
  const json state = read_state(prefix);
  if (!state.is_object()) return out;
  if (!identity.is_null() && state.value("identity", json()) != identity) {
    // Trained from something else under this name (or before identities were recorded): keep it
    // aside, never resume it.
    set_aside(prefix, state, "stale");
    spdlog::warn("checkpoint {} was trained from a different configuration; set aside as *.stale, training afresh",
                 prefix);
    return out;
  }
  try {
    out.step = state.at("step").get<int64_t>();
    out.stats = TrainStats::from_json(state.at("stats"));
    out.complete = state.value("complete", false);
    out.exists = true;
  } catch (const std::exception& e) {
    set_aside(prefix, state, "corrupt");
    spdlog::warn("checkpoint {} has an unreadable state file ({}); set aside as *.corrupt", prefix, error_line(e));
    return CheckpointState{};
  }
  return out;
}

int64_t checkpoint_step(const std::string& prefix, const json& identity) { return read_checkpoint(prefix, identity).step; }

bool load_checkpoint(GPT& model, torch::optim::AdamW* optimizer, const std::string& prefix, const std::string& label) {
  const json state = read_state(prefix);
  std::stringstream before;
  torch::save(model, before);
  try {
    if (!state.is_object()) throw std::runtime_error("the state file is not a JSON object");
    torch::load(model, checkpoint_file(prefix, state, "model_file"));
    if (optimizer) torch::load(*optimizer, checkpoint_file(prefix, state, "optim_file"));
    return true;
  } catch (const std::exception& e) {
    set_aside(prefix, state, "corrupt");
    spdlog::warn("[{}] checkpoint {} is unreadable ({}); set aside as *.corrupt, training this model from step 0",
                 label, prefix, error_line(e));
    torch::load(model, before);
    return false;
  }
}

void save_checkpoint(GPT& model, torch::optim::AdamW& optimizer, const std::string& prefix, const json& identity,
                     int64_t step, bool complete, const TrainStats& stats) {
  ensure_directory(fs::path(prefix).parent_path().string(), "checkpoint directory");
  const json previous = read_state(prefix);
  const std::string stem = fmt::format("{}.step{}", prefix, step);
  // Serialized in memory, then written with our own atomic write: libtorch's file writer throws
  // from a destructor when a write fails (disk full, file-size limit), which would abort.
  auto write = [&](const auto& module, const std::string& path) {
    std::ostringstream bytes;
    torch::save(module, bytes);
    try {
      write_text_atomic(path, bytes.str());
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("cannot write checkpoint: {} (the previous checkpoint is kept)", e.what()));
    }
  };
  write(model, stem + ".model.pt");
  try {
    write(optimizer, stem + ".optim.pt");
  } catch (...) {
    std::error_code ec;
    fs::remove(stem + ".model.pt", ec);
    throw;
  }
  json state = {{"step", step}, {"complete", complete}, {"stats", stats.to_json()}, {"identity", identity}};
  state["model_file"] = fs::path(stem + ".model.pt").filename().string();
  state["optim_file"] = fs::path(stem + ".optim.pt").filename().string();
  write_json_atomic(prefix + ".json", state);
  if (previous.is_object())
    for (const char* key : {"model_file", "optim_file"})
      if (previous.value(key, "") != state[key]) {
        std::error_code ec;  // a stale file that cannot be removed is no reason to stop training
        fs::remove(fs::path(prefix).parent_path() / previous.value(key, ""), ec);
      }
}

}  // namespace lb
