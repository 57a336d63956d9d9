#include "harness/train/distributed.h"

#include <fmt/format.h>
// c10d's gloo process group needs gloo's headers: the Debian libtorch has them (libgloo-dev), a
// pip libtorch may not; without them this build runs as one process only.
#if defined(USE_C10D_GLOO) && __has_include(<gloo/config.h>)
#define LENGTHBENCH_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#include <chrono>
#include <cstdlib>
#include <optional>

#include "harness/core/errors.h"

namespace lb {

#ifdef LENGTHBENCH_GLOO
struct DataParallel::Group {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};
#else
struct DataParallel::Group {};
#endif

DataParallel::DataParallel(const std::string& addr, int port, int rank, int world, int local_rank)
    : group_(std::make_unique<Group>()), rank_(rank), world_(world), local_rank_(local_rank),
      address_(fmt::format("{}:{}", addr, port)) {
#ifndef LENGTHBENCH_GLOO
  throw std::runtime_error(fmt::format("data-parallel rank {} of {}: this lengthbench was built without gloo "
                                       "(c10d's gloo headers), so it runs as one process only", rank, world));
#else
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = uint16_t(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = world;
    store_options.waitWorkers = false;  // the process group's own rendezvous waits for every rank
    store_options.timeout = std::chrono::minutes(5);  // a rank that never comes is an error, not a hang
    group_->store = c10::make_intrusive<c10d::TCPStore>(addr, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::minutes(10));
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(addr));
    group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, rank, world, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        fmt::format("data-parallel rank {} of {} could not join {}: {}", rank, world, address_, error_line(e)));
  }
#endif
}

DataParallel::~DataParallel() = default;

std::string DataParallel::describe() const {
  return fmt::format("data-parallel rank {} of {} (local rank {}, gloo via {})", rank_, world_, local_rank_, address_);
}

#ifdef LENGTHBENCH_GLOO
void DataParallel::broadcast(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    std::vector<at::Tensor> one = {t.detach()};
    group_->gloo->broadcast(one)->wait();
  }
}

void DataParallel::average(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  // Flatten consecutive tensors into buckets: one all-reduce per bucket, not one per parameter.
  size_t first = 0;
  while (first < tensors.size()) {
    size_t last = first;
    int64_t bytes = 0;
    std::vector<torch::Tensor> flat;
    while (last < tensors.size() && (last == first || bytes + tensors[last].nbytes() <= kBucketBytes)) {
      bytes += int64_t(tensors[last].nbytes());
      flat.push_back(tensors[last].reshape(-1));
      ++last;
    }
    std::vector<at::Tensor> bucket = {torch::cat(flat)};
    group_->gloo->allreduce(bucket)->wait();
    bucket[0].div_(world_);
    int64_t offset = 0;
    for (size_t i = first; i < last; ++i) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(bucket[0].narrow(0, offset, n).view_as(tensors[i]));
      offset += n;
    }
    first = last;
  }
}
#else
void DataParallel::broadcast(const std::vector<torch::Tensor>&) {}
void DataParallel::average(const std::vector<torch::Tensor>&) {}
#endif

namespace {

std::optional<int> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != 0) throw InputError(fmt::format("environment variable {}=\"{}\" is not an integer", name, v));
  return int(n);
}

}  // namespace

std::shared_ptr<DataParallel> data_parallel_from_env() {
  auto world = env_int("WORLD_SIZE");
  auto rank = env_int("RANK");
  if (!world) {  // srun: one task per rank
    world = env_int("SLURM_NTASKS");
    rank = env_int("SLURM_PROCID");
  }
  if (!world || *world <= 1) return nullptr;
  if (!rank || *rank < 0 || *rank >= *world)
    throw InputError(fmt::format("data-parallel: WORLD_SIZE (or SLURM_NTASKS) is {} but RANK (or SLURM_PROCID) is {}",
                                 *world, rank ? std::to_string(*rank) : "unset"));
  const char* addr = std::getenv("MASTER_ADDR");
  const auto port = env_int("MASTER_PORT");
  if (!addr || !port)
    throw InputError("data-parallel: set MASTER_ADDR and MASTER_PORT (the host and a free port of rank 0)");
  const int local_rank = env_int("LOCAL_RANK").value_or(env_int("SLURM_LOCALID").value_or(0));
  return std::make_shared<DataParallel>(addr, *port, *rank, *world, local_rank);
}

std::pair<int, int> slurm_array_shard() {
  const auto id = env_int("SLURM_ARRAY_TASK_ID"), tasks = env_int("SLURM_ARRAY_TASK_COUNT");
  if (!id || !tasks)
    throw InputError("--shard auto reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, which are not set "
                     "(not a Slurm array task; give --shard i/N)");
  if (env_int("SLURM_ARRAY_TASK_STEP").value_or(1) != 1)
    throw InputError("--shard auto needs a Slurm array with step 1 (e.g. --array=1-4)");
  return {*id - env_int("SLURM_ARRAY_TASK_MIN").value_or(1) + 1, *tasks};
}

}  // namespace lb
