// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/arg_parser.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "quant/error.h"

namespace tqsearch::cli {

namespace {
const FlagSpec* find_flag(const CommandSpec& spec, const std::string& name) {
  for (const auto& f : spec.flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}
}  // namespace

int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  TQ_CHECK(!text.empty() && end != nullptr && *end == '\0' && errno == 0,
           what << ": '" << text << "' is not an integer");
  TQ_CHECK(v >= lo && v <= hi, what << ": " << v << " is out of range " << lo << ".." << hi);
  return v;
}

std::string ParsedArgs::get(const std::string& name) const {
  const FlagSpec* f = find_flag(*spec_, name);
  TQ_CHECK(f != nullptr, "internal: flag --" << name << " is not declared for tqsearch " << spec_->name);
  auto it = values_.find(name);
  return it != values_.end() ? it->second : f->default_value;
}

int64_t ParsedArgs::get_int(const std::string& name, int64_t lo, int64_t hi) const {
  return parse_int(get(name), "--" + name, lo, hi);
}

std::vector<int64_t> ParsedArgs::get_int_list(const std::string& name, int64_t lo, int64_t hi) const {
  const std::string text = get(name);
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parse_int(item, "--" + name + " item", lo, hi));
  TQ_CHECK(!out.empty() && text.back() != ',', "--" << name << ": expected a comma-separated list of integers, got '"
                                                    << text << "'");
  return out;
}

ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& args) {
  ParsedArgs out;
  out.spec_ = &spec;
  const std::string cmd = "tqsearch " + spec.name;
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") out.help_ = true;
  }
  if (out.help_) return out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string name = a.substr(2), value;
      bool inline_value = false;
      const size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      const FlagSpec* f = find_flag(spec, name);
      TQ_CHECK(f != nullptr, cmd << ": unknown flag --" << name << " (see " << cmd << " --help)");
      TQ_CHECK(out.values_.count(name) == 0, cmd << ": --" << name << " given twice");
      if (f->value_name.empty()) {
        TQ_CHECK(!inline_value, cmd << ": --" << name << " takes no value");
        out.values_[name] = "1";
        continue;
      }
      if (!inline_value) {
        TQ_CHECK(i + 1 < args.size(), cmd << ": --" << name << " needs a value (" << f->value_name << ")");
        value = args[++i];
      }
      TQ_CHECK(!value.empty(), cmd << ": --" << name << " needs a non-empty value (" << f->value_name << ")");
      out.values_[name] = value;
    } else if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
      TQ_THROW(cmd << ": unknown option " << a << " (flags are --name; see " << cmd << " --help)");
    } else {
      out.positionals_.push_back(a);
    }
  }
  TQ_CHECK(out.positionals_.size() <= spec.positionals.size(),
           cmd << ": unexpected argument '" << out.positionals_[spec.positionals.size()] << "' (see " << cmd
               << " --help)");
  if (out.positionals_.size() < spec.positionals.size()) {
    TQ_THROW(cmd << ": missing " << spec.positionals[out.positionals_.size()].name << " (see " << cmd << " --help)");
  }
  for (const auto& f : spec.flags) {
    TQ_CHECK(!f.required || out.values_.count(f.name) != 0,
             cmd << ": --" << f.name << " " << f.value_name << " is required (see " << cmd << " --help)");
  }
  return out;
}

std::string format_help(const CommandSpec& spec) {
  std::ostringstream os;
  os << "usage: tqsearch " << spec.name;
  for (const auto& p : spec.positionals) os << " " << p.name;
  for (const auto& f : spec.flags) {
    const std::string flag = "--" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    os << " " << (f.required ? flag : "[" + flag + "]");
  }
  os << "\n\n" << spec.summary << "\n\n";
  size_t width = 0;
  for (const auto& p : spec.positionals) width = std::max(width, p.name.size());
  for (const auto& f : spec.flags) width = std::max(width, f.name.size() + 3 + f.value_name.size());
  for (const auto& p : spec.positionals) {
    os << "  " << p.name << std::string(width - p.name.size() + 2, ' ') << p.help << "\n";
  }
  for (const auto& f : spec.flags) {
    const std::string flag = "--" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    os << "  " << flag << std::string(width - flag.size() + 2, ' ') << f.help;
    if (!f.default_value.empty()) os << " (default: " << f.default_value << ")";
    os << "\n";
  }
  os << "  -h, --help" << std::string(width + 2 > 10 ? width + 2 - 10 : 1, ' ') << "show this help\n";
  if (!spec.details.empty()) os << "\n" << spec.details;
  if (spec.details.empty() || spec.details.back() != '\n') os << "\n";
  return os.str();
}

}  // namespace tqsearch::cli
