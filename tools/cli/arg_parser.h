// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Command-line flags of one `tqsearch` command: "--flag value", "--flag=value", boolean switches, positional
/// arguments, generated --help text. Unknown or repeated flags and missing values are tqsearch::Errors whose
/// message names the command and points at --help.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tqsearch::cli {

struct FlagSpec {
  std::string name;        ///< without the leading "--"
  std::string value_name;  ///< e.g. "FILE"; empty = a switch that takes no value
  std::string help;
  bool required = false;
  std::string default_value;  ///< shown in --help and returned by get() when the flag is absent
};

struct PositionalSpec {
  std::string name;  ///< e.g. "INDEX"
  std::string help;
};

struct CommandSpec {
  std::string name;     ///< "build"
  std::string summary;  ///< one line
  std::string details;  ///< paragraphs after the flag list (formats, examples)
  std::vector<FlagSpec> flags;
  std::vector<PositionalSpec> positionals;  ///< all required, in order
};

class ParsedArgs {
 public:
  bool help() const { return help_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// The value, or the flag's default ("" when none). Throws for undeclared names (a programming error).
  std::string get(const std::string& name) const;
  /// Integer in [lo, hi]; the error names the flag, the value and the range.
  int64_t get_int(const std::string& name, int64_t lo, int64_t hi) const;
  /// Comma-separated integers, each in [lo, hi], at least one.
  std::vector<int64_t> get_int_list(const std::string& name, int64_t lo, int64_t hi) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& args);
  const CommandSpec* spec_ = nullptr;
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

/// Parse args (without the program and command names). "-h"/"--help" anywhere sets help() and skips the checks
/// of required flags.
ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& args);

/// "usage: tqsearch build --input FILE ..." plus one line per flag and the details.
std::string format_help(const CommandSpec& spec);

/// Parse a decimal integer that must fill the whole string; `what` names it in the error.
int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi);

}  // namespace tqsearch::cli
