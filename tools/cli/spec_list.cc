// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/spec_list.h"

#include <cctype>
#include <sstream>

#include "quant/error.h"

namespace tqsearch::cli {

namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

bool all_digits_after(const std::string& s, size_t from) {
  if (s.size() <= from) return false;
  for (size_t i = from; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool is_option_token(const std::string& t) {
  return t == "QJL" || t == "MSE" || t == "Renorm" || t == "Dense" || t == "RFlat" || t == "Center" ||
         t == "OptCos" || t == "Norm16" || (starts_with(t, "Scan") && all_digits_after(t, 4)) ||
         (starts_with(t, "Lut") && all_digits_after(t, 3)) ||
         starts_with(t, "Refine(");
}

bool is_tq_token(const std::string& t) { return starts_with(t, "TQ"); }

/// Tokens that need the next token to make a description.
bool is_prefix_token(const std::string& t, const std::string* next) {
  if (t == "IDMap" || t == "IDMap2" || t == "L2norm") return true;
  if (starts_with(t, "HNSW") && all_digits_after(t, 4)) return next != nullptr && is_tq_token(*next);
  for (const char* p : {"IVF", "IMI", "OPQ", "PCA", "RR", "ITQ", "Pad"}) {
    if (starts_with(t, p)) return true;
  }
  return false;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(trim(item));
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

}  // namespace

std::vector<std::string> split_spec_list(const std::string& list) {
  std::vector<std::string> specs;
  if (list.find(';') != std::string::npos) {
    for (auto& s : split(list, ';')) {
      TQ_CHECK(!s.empty(), "--specs: empty description in '" << list << "'");
      specs.push_back(s);
    }
    return specs;
  }
  const std::vector<std::string> tokens = split(list, ',');
  std::string pending;  // prefix tokens waiting for their description
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    TQ_CHECK(!t.empty(), "--specs: empty item in '" << list << "'");
    if (is_option_token(t) && pending.empty()) {
      TQ_CHECK(!specs.empty(), "--specs: '" << t << "' modifies a description and cannot come first");
      specs.back() += "," + t;
      continue;
    }
    const std::string* next = i + 1 < tokens.size() ? &tokens[i + 1] : nullptr;
    if (is_prefix_token(t, next)) {
      TQ_CHECK(next != nullptr, "--specs: '" << pending << t << "' at the end needs a description after it (e.g. "
                                             "IDMap,TQ4)");
      pending += t + ",";
      continue;
    }
    specs.push_back(pending + t);
    pending.clear();
  }
  return specs;
}

}  // namespace tqsearch::cli
