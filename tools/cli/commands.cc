// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/commands.h"

namespace tqsearch::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"build", build_command_spec, run_build},
      {"search", search_command_spec, run_search},
      {"info", info_command_spec, run_info},
      {"bench", bench_command_spec, run_bench},
  };
  return kCommands;
}

}  // namespace tqsearch::cli
