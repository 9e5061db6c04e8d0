// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/json_writer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "quant/error.h"

namespace tqsearch::cli {

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void JsonWriter::newline() {
  out_ += '\n';
  out_.append(2 * stack_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (stack_.empty()) return;
  Level& l = stack_.back();
  TQ_CHECK(!l.is_object, "internal: JSON object value without a key");
  if (!l.empty) out_ += l.inline_array ? ", " : ",";
  if (!l.inline_array) newline();
  l.empty = false;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  TQ_CHECK(!stack_.empty() && stack_.back().is_object && !after_key_, "internal: JSON key outside an object");
  Level& l = stack_.back();
  if (!l.empty) out_ += ",";
  newline();
  l.empty = false;
  out_ += json_quote(k) + ": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  stack_.push_back({true, false});
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  TQ_CHECK(!stack_.empty() && stack_.back().is_object, "internal: unbalanced JSON object");
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) newline();
  out_ += '}';
  if (stack_.empty()) out_ += '\n';
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_ += '[';
  stack_.push_back({false, false});
  return *this;
}

JsonWriter& JsonWriter::begin_inline_array() {
  before_value();
  out_ += '[';
  stack_.push_back({false, true});
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  TQ_CHECK(!stack_.empty() && !stack_.back().is_object, "internal: unbalanced JSON array");
  const Level l = stack_.back();
  stack_.pop_back();
  if (!l.empty && !l.inline_array) newline();
  out_ += ']';
  if (stack_.empty()) out_ += '\n';
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  before_value();
  out_ += json_quote(s);
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  if (!std::isfinite(v)) return null();
  before_value();
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);  // integral values without exponent: 320, not 3.2e+02
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    // Shortest representation that reads back to the same double.
    for (int prec = 1; prec <= 17; ++prec) {
      char tmp[40];
      std::snprintf(tmp, sizeof tmp, "%.*g", prec, v);
      if (std::strtod(tmp, nullptr) == v) {
        std::snprintf(buf, sizeof buf, "%s", tmp);
        break;
      }
    }
  }
  out_ += buf;
  return *this;
}

JsonWriter& JsonWriter::value(int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

}  // namespace tqsearch::cli
