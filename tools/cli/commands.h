// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The `tqsearch` commands. Each takes its arguments (after the command name), prints to stdout/stderr and
/// returns the exit status; errors are thrown (tqsearch::Error) and reported by main in one line.

#include <string>
#include <vector>

#include "tools/cli/arg_parser.h"

namespace tqsearch::cli {

struct Command {
  const char* name;
  CommandSpec (*spec)();
  int (*run)(const ParsedArgs& args);
};

/// build, search, info, bench — in that order.
const std::vector<Command>& commands();

CommandSpec build_command_spec();
int run_build(const ParsedArgs& args);
CommandSpec search_command_spec();
int run_search(const ParsedArgs& args);
CommandSpec info_command_spec();
int run_info(const ParsedArgs& args);
CommandSpec bench_command_spec();
int run_bench(const ParsedArgs& args);

}  // namespace tqsearch::cli
