#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <torch/torch.h>

int main(int argc, char* argv[]) {
  torch::set_num_threads(2);  // small tensors: more threads only add overhead
  return Catch::Session().run(argc, argv);
}
