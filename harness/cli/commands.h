// The command table of `lengthbench`: each command's name, what it takes, its flags and its
// handler. Dispatch, `--help` (the whole list and each command's own), the usage text and the
// parser's errors are all generated from this one table, so what is shown is what is accepted.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/core/errors.h"

namespace lb {

struct UsageError : InputError {
  using InputError::InputError;
};

struct Flag {
  std::string name;      // without the leading "--"
  std::string value;     // the value's placeholder ("N", "DIR", "a|b|c"); empty: a switch that takes none
  std::string help;
  bool repeatable = false;
};

class Args;

struct Command {
  std::string name;
  std::string operands;  // "CONFIG", "REPORT...", ""
  std::string summary;
  std::vector<Flag> flags;
  int (*handler)(const Args&);
};

const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
// "usage: lengthbench run CONFIG [--set key.path=value]... ..." and one line per flag.
std::string command_usage(const Command& command);
// Every command with its summary, and how to get each one's flags.
std::string overall_usage();
// docs/reference/cli.md: every command's usage and flags, from this table (a test compares them).
std::string cli_reference_markdown();

// A command's operands and flags, parsed against its table entry.
class Args {
 public:
  Args(const Command& command, int argc, char** argv, int first);
  const std::vector<std::string>& operands() const { return operands_; }
  bool has(const std::string& name) const { return flags_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  // --name as a positive integer (fallback when absent); UsageError naming the flag otherwise.
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name) const;
  bool help() const { return help_; }

 private:
  const Command& command_;
  std::vector<std::string> operands_;
  std::multimap<std::string, std::string> flags_;
  bool help_ = false;
};

}  // namespace lb
