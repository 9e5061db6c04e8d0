// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The machine a benchmark ran on, as bench JSON reports it.

#include <string>

namespace tqsearch::cli {

struct MachineInfo {
  std::string cpu_model;  ///< "model name" of /proc/cpuinfo ("unknown" elsewhere)
  int cores = 0;          ///< logical CPUs available to this process
};

MachineInfo machine_info();

}  // namespace tqsearch::cli
