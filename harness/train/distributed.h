// Data-parallel training over torch's own c10d: ProcessGroupGloo on CPU (NCCL is not wired: the
// Debian libtorch has no CUDA). Each rank trains on its slice of every global batch; gradients
// are averaged with bucketed all-reduces; rank 0 writes checkpoints and reports.
//
// Launch: torchrun-style environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; LOCAL_RANK is
// read for logs) or Slurm's (SLURM_PROCID, SLURM_NTASKS, with MASTER_ADDR/MASTER_PORT exported by
// the job script), one process per rank.
#pragma once
#include <torch/torch.h>
#include <memory>
#include <utility>
#include <string>
#include <vector>

namespace lb {

class DataParallel {
 public:
  // Joins the group at addr:port (rank 0 hosts the store). Throws naming what failed.
  DataParallel(const std::string& addr, int port, int rank, int world, int local_rank = 0);
  ~DataParallel();

  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }
  bool is_main() const { return rank_ == 0; }
  std::string describe() const;

  // Every rank ends with rank 0's values.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Sums across ranks and divides by the world size, in buckets of about kBucketBytes, in place.
  void average(const std::vector<torch::Tensor>& tensors);

  static constexpr int64_t kBucketBytes = 25 << 20;

 private:
  struct Group;
  std::unique_ptr<Group> group_;
  int rank_, world_, local_rank_;
  std::string address_;
};

// The group described by the environment, or nullptr for a single process (no variables, or a
// world size of 1). Throws InputError on inconsistent variables.
std::shared_ptr<DataParallel> data_parallel_from_env();

// This task's shard (i, N) of a Slurm job array: SLURM_ARRAY_TASK_ID counted from
// SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT tasks. Throws InputError outside an array task
// or for an array whose step is not 1.
std::pair<int, int> slurm_array_shard();

}  // namespace lb
