#include "harness/core/errors.h"

#include <atomic>
#include <csignal>

#include <c10/util/Exception.h>

namespace lb {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
// The first signal asks for a clean stop at the next step boundary; a second one is not ignored:
// it takes the default action (the process ends at once).
void on_signal(int sig) {
  if (g_interrupted) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_interrupted = 1;
}
}  // namespace

bool interrupt_requested() { return g_interrupted != 0; }

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string error_line(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  const std::string message = torch_error ? torch_error->what_without_backtrace() : e.what();
  return message.substr(0, message.find('\n'));
}

void check_interrupt(const std::string& where) {
  if (interrupt_requested()) throw Interrupted("interrupted " + where);
}

}  // namespace lb
