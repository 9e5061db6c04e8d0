// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch info: what an index file holds.

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "index/index_io.h"
#include "quant/error.h"
#include "tools/cli/cli_common.h"
#include "tools/cli/commands.h"
#include "tools/cli/index_summary.h"

namespace tqsearch::cli {

namespace {
/// "tqsearch record TqFl, version 1" or "FAISS record IxF2" from the first bytes of the file.
std::string file_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, 8);
  if (in.gcount() < 4) return "unknown";
  std::string fourcc;
  for (int i = 0; i < 4; ++i) fourcc += (head[i] >= 32 && head[i] < 127) ? head[i] : '?';
  if (fourcc.rfind("Tq", 0) == 0 && in.gcount() == 8) {
    uint32_t version;
    std::memcpy(&version, head + 4, 4);
    return "tqsearch record " + fourcc + ", format version " + std::to_string(version);
  }
  return "FAISS record " + fourcc + " (FAISS's own format)";
}
}  // namespace

CommandSpec info_command_spec() {
  CommandSpec s;
  s.name = "info";
  s.summary = "Describe an index file: type, d, bits, metric, count, memory, rotation, format version, SIMD level.";
  s.positionals = {{"INDEX", "index file written by tqsearch build"}};
  s.details = "Example:\n  tqsearch info glove.tqs\n";
  return s;
}

int run_info(const ParsedArgs& args) {
  const std::string path = args.positionals().at(0);
  std::unique_ptr<faiss::Index> index = read_index(path.c_str());
  struct stat st {};
  TQ_CHECK(::stat(path.c_str(), &st) == 0, path << ": cannot stat");
  std::printf("%-13s %s\n", "file", path.c_str());
  std::printf("%-13s %s\n", "file size", human_bytes(double(st.st_size)).c_str());
  std::printf("%-13s %s\n", "format", file_format(path).c_str());
  for (const auto& [field, value] : describe_index(*index)) std::printf("%-13s %s\n", field.c_str(), value.c_str());
  return 0;
}

}  // namespace tqsearch::cli
