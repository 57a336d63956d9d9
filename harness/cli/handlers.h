// The command handlers the table in commands.cpp names (one file per group of commands).
#pragma once
#include "harness/cli/commands.h"

namespace lb {

int cmd_run(const Args& args);       // run_commands.cpp
int cmd_merge(const Args& args);
int cmd_tokenize(const Args& args);
int cmd_table(const Args& args);     // report_commands.cpp
int cmd_claims(const Args& args);
int cmd_plot(const Args& args);
int cmd_inspect(const Args& args);   // tool_commands.cpp
int cmd_list(const Args& args);
int cmd_reference(const Args& args);
int cmd_bench(const Args& args);

}  // namespace lb
