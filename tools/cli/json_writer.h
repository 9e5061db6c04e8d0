// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// A small JSON emitter for bench and search output: nested objects/arrays, escaped strings, doubles printed
/// with enough digits to round-trip (non-finite numbers become null), two-space indentation.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tqsearch::cli {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  /// Key of the next value (inside an object).
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(double v);
  JsonWriter& value(int64_t v);
  JsonWriter& value(int v) { return value(int64_t(v)); }
  JsonWriter& value(size_t v) { return value(int64_t(v)); }
  JsonWriter& value(bool v);
  JsonWriter& null();
  /// Arrays on one line (for id lists): begin_array(true).
  JsonWriter& begin_inline_array();

  const std::string& str() const { return out_; }

 private:
  void before_value();
  void newline();

  struct Level {
    bool is_object;
    bool inline_array;
    bool empty = true;
  };
  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

/// JSON string literal with escapes.
std::string json_quote(std::string_view s);

}  // namespace tqsearch::cli
