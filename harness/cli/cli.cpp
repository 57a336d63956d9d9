#include "harness/cli/cli.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <csignal>
#include <iostream>

#include "harness/cli/commands.h"
#include "harness/core/errors.h"

namespace lb {

int cli_main(int argc, char** argv) {
  // A write over the file-size limit fails with EFBIG (one clear error) instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  spdlog::set_pattern("%H:%M:%S %^%l%$ %v");
  // Activations of a few MB are allocated and freed every step; keep them in the heap instead of
  // paying mmap + page faults + munmap for each (glibc's default for blocks >= 128 KiB). 32 MiB is
  // glibc's largest mmap threshold; bigger blocks (evaluation's [B, H, 4L, 4L] scores) stay in the
  // heap only when its top has room, hence the 1 GiB pad (address space: untouched pages cost no
  // memory). Measured: 580k -> 90k page faults and evaluation at 4L 1.6-1.7x faster (fp32, quick size).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 1 << 30);
  if (argc < 2) {
    std::cerr << overall_usage();
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::cout << overall_usage();
    return 0;
  }
  const Command* command = find_command(name);
  try {
    if (!command) {
      std::vector<std::string> names;
      for (const auto& c : commands()) names.push_back(c.name);
      throw UsageError(fmt::format("unknown command \"{}\"; commands: {}", name, fmt::join(names, ", ")));
    }
    const Args args(*command, argc, argv, 2);
    if (args.help()) {
      std::cout << command_usage(*command);
      return 0;
    }
    return command->handler(args);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n" << (command ? command_usage(*command) : overall_usage());
    return 2;
  } catch (const Interrupted& e) {
    std::cerr << "error: " << e.what() << "; progress is saved: run the same command again to resume\n";
    return 130;
  } catch (...) {
    return report_error(std::current_exception());
  }
}

int report_error(std::exception_ptr error) {
  // One line each, never a stack trace: libtorch's messages carry one, so only their first part is shown.
  try {
    std::rethrow_exception(error);
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "error: JSON data lacks an expected field or type (a report or state file from another version?): "
              << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << error_line(e) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory (see the memory estimate at the start of the run; lower eval.batch_tokens, "
                 "train.batch_size or the model size)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "error: unknown failure\n";
    return 1;
  }
}

}  // namespace lb
