// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// The `tqsearch` command line: build, search, info, bench. Every error ends here as one line on stderr and a
// non-zero exit status (1: the command failed, 2: bad usage); nothing escapes main.

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <faiss/impl/FaissException.h>

#include "quant/error.h"
#include "quant/simd_level.h"
#include "tools/cli/arg_parser.h"
#include "tools/cli/commands.h"
#include "tools/io/file_format.h"

#ifndef TQSEARCH_VERSION
#define TQSEARCH_VERSION "unknown"
#endif

namespace {

using tqsearch::cli::commands;

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: tqsearch COMMAND [flags]   (tqsearch COMMAND --help for its flags)\n\n"
               "TurboQuant vector search: data-oblivious codes, no training.\n\ncommands:\n");
  for (const auto& c : commands()) {
    std::string summary = c.spec().summary;
    const size_t dot = summary.find(". ");
    if (dot != std::string::npos) summary = summary.substr(0, dot + 1);  // first sentence
    std::fprintf(out, "  %-8s %s\n", c.name, summary.c_str());
  }
  std::fprintf(out, "\n  --version  print the version\n  --help     this text\n");
}

/// One line: newlines of multi-line messages (FAISS's) become spaces.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int fail(const std::string& msg, int status) {
  std::fprintf(stderr, "tqsearch: error: %s\n", one_line(msg).c_str());
  return status;
}

int dispatch(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    print_usage(stderr);
    return 2;
  }
  const std::string& first = argv[0];
  if (first == "--version" || first == "version") {
    std::printf("tqsearch %s (SIMD %s, HDF5 %s)\n", TQSEARCH_VERSION,
                std::string(tqsearch::simd_level_name(tqsearch::simd_level())).c_str(),
                tqsearch::io::hdf5_supported() ? "yes" : "no");
    return 0;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    if (argv.size() >= 2) {
      for (const auto& c : commands()) {
        if (argv[1] == c.name) {
          std::printf("%s", tqsearch::cli::format_help(c.spec()).c_str());
          return 0;
        }
      }
      return fail("unknown command '" + argv[1] + "' (commands: build, search, info, bench)", 2);
    }
    print_usage(stdout);
    return 0;
  }
  for (const auto& c : commands()) {
    if (first != c.name) continue;
    const tqsearch::cli::CommandSpec spec = c.spec();
    const std::vector<std::string> rest(argv.begin() + 1, argv.end());
    tqsearch::cli::ParsedArgs args;
    try {
      args = tqsearch::cli::parse_args(spec, rest);
    } catch (const tqsearch::Error& e) {
      return fail(e.what(), 2);
    }
    if (args.help()) {
      std::printf("%s", tqsearch::cli::format_help(spec).c_str());
      return 0;
    }
    return c.run(args);
  }
  return fail("unknown command '" + first + "' (commands: build, search, info, bench; see tqsearch --help)", 2);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const tqsearch::Error& e) {
    return fail(e.what(), 1);
  } catch (const faiss::FaissException& e) {
    // FAISS prefixes "Error in <function> at <file>:<line>:"; keep only its message.
    std::string msg = e.msg;
    const char* marker = ": ";
    const size_t at = msg.find(" at ");
    if (msg.rfind("Error in ", 0) == 0 && at != std::string::npos) {
      const size_t colon = msg.find(marker, at);
      if (colon != std::string::npos) msg = msg.substr(colon + 2);
    }
    return fail("FAISS: " + msg, 1);
  } catch (const std::bad_alloc&) {
    return fail("out of memory", 1);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  } catch (...) {
    return fail("unknown error", 1);
  }
}
