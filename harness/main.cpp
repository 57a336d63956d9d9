#include "harness/cli/cli.h"

// Every exception ends as one line and an exit code, even one thrown before cli_main's own handlers.
int main(int argc, char** argv) {
  try {
    return lb::cli_main(argc, argv);
  } catch (...) {
    return lb::report_error(std::current_exception());
  }
}
