#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "harness/run/experiment.h"

int main(int argc, char* argv[]) {
  lb::use_threads(2);  // small tensors: more threads only add overhead
  return Catch::Session().run(argc, argv);
}
