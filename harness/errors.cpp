#include "harness/errors.h"

#include <atomic>
#include <csignal>

namespace lb {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }
}  // namespace

bool interrupt_requested() { return g_interrupted != 0; }

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void check_interrupt(const std::string& where) {
  if (interrupt_requested()) throw Interrupted("interrupted " + where);
}

}  // namespace lb
