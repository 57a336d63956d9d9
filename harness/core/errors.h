// The errors lengthbench reports, by what the user should do about them. `main` prints one line
// for each and exits with: 2 for bad input (fix the config, data or command), 1 for a failure
// while running (resources, numerics, I/O), 130 when interrupted (rerun to resume).
#pragma once
#include <stdexcept>
#include <string>

namespace lb {

// Bad input: a config key, a data file, a command-line argument. Exit code 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// More than the machine has (memory, disk). Exit code 1.
struct ResourceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Training diverged (a non-finite loss). The run is marked failed; the others continue.
struct NumericError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// SIGINT or SIGTERM arrived; state was saved. Exit code 130.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Set by the SIGINT/SIGTERM handler that `install_interrupt_handler` installs (for `run`); long
// loops poll it between steps and stop cleanly (checkpoint, incomplete report). A second signal
// ends the process at once.
bool interrupt_requested();
void install_interrupt_handler();
// Throws Interrupted naming `where` when a signal has arrived.
void check_interrupt(const std::string& where);

// The first line of an exception's message, without the backtrace libtorch appends to its own:
// what every one-line error report shows.
std::string error_line(const std::exception& e);

}  // namespace lb
