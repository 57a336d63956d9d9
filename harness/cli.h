#pragma once

namespace lb {
// The `lengthbench` command line; returns the process exit code.
int cli_main(int argc, char** argv);
}  // namespace lb
