// The `lengthbench` command line.
#pragma once
#include <exception>

namespace lb {
// Runs a command; returns the process exit code (0 ok, 1 failure while running, 2 bad input,
// 130 interrupted).
int cli_main(int argc, char** argv);
// Prints one line for an exception and returns its exit code (see harness/errors.h).
int report_error(std::exception_ptr error);
}  // namespace lb
