// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/machine_info.h"

#include <sched.h>

#include <fstream>
#include <thread>

namespace tqsearch::cli {

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu_model = "unknown";
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 10, "model name") == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t b = colon + 1;
        while (b < line.size() && line[b] == ' ') ++b;
        m.cpu_model = line.substr(b);
      }
      break;
    }
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    m.cores = CPU_COUNT(&set);
  } else {
    m.cores = int(std::thread::hardware_concurrency());
  }
  return m;
}

}  // namespace tqsearch::cli
