// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
// A tiny JSON parser for the CLI tests (bench --json, search --out .json): objects, arrays, strings with the
// common escapes, numbers (strtod, exact for what JsonWriter prints), true/false/null. Throws std::runtime_error
// on malformed input or on access to a missing key, so a schema change fails the test loudly.

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tqsearch::testing {

class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool boolean() const { return expect(Kind::kBool).b_; }
  double num() const { return expect(Kind::kNumber).n_; }
  const std::string& str() const { return expect(Kind::kString).s_; }
  size_t size() const {
    if (kind_ == Kind::kArray) return a_.size();
    return expect(Kind::kObject).o_.size();
  }
  bool has(const std::string& k) const { return expect(Kind::kObject).o_.count(k) != 0; }
  const Json& operator[](const std::string& k) const {
    const auto& o = expect(Kind::kObject).o_;
    auto it = o.find(k);
    if (it == o.end()) throw std::runtime_error("JSON: missing key '" + k + "'");
    return it->second;
  }
  const Json& operator[](const char* k) const { return (*this)[std::string(k)]; }
  const Json& operator[](size_t i) const {
    const auto& a = expect(Kind::kArray).a_;
    if (i >= a.size()) throw std::runtime_error("JSON: index " + std::to_string(i) + " out of range");
    return a[i];
  }
  const Json& operator[](int i) const { return (*this)[size_t(i)]; }
  const std::map<std::string, Json>& object() const { return expect(Kind::kObject).o_; }

 private:
  friend class JsonParser;
  const Json& expect(Kind k) const {
    if (kind_ != k) throw std::runtime_error("JSON: value has another type");
    return *this;
  }
  Kind kind_ = Kind::kNull;
  bool b_ = false;
  double n_ = 0;
  std::string s_;
  std::vector<Json> a_;
  std::map<std::string, Json> o_;
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : t_(text) {}
  Json parse_document() {
    Json v = parse_value();
    ws();
    if (p_ != t_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("JSON parse error at offset " + std::to_string(p_) + ": " + what);
  }
  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\t' || t_[p_] == '\r')) ++p_;
  }
  bool lit(const char* s) {
    const std::string x(s);
    if (t_.compare(p_, x.size(), x) == 0) {
      p_ += x.size();
      return true;
    }
    return false;
  }
  std::string parse_string() {
    if (t_[p_] != '"') fail("expected string");
    ++p_;
    std::string out;
    while (p_ < t_.size() && t_[p_] != '"') {
      char c = t_[p_++];
      if (c == '\\') {
        if (p_ >= t_.size()) fail("bad escape");
        const char e = t_[p_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            if (p_ + 4 > t_.size()) fail("bad \\u escape");
            const unsigned v = unsigned(std::stoul(t_.substr(p_, 4), nullptr, 16));
            p_ += 4;
            if (v >= 0x80) fail("non-ASCII \\u escapes are not supported by this test parser");
            out += char(v);
            break;
          }
          default: out += e;
        }
      } else {
        out += c;
      }
    }
    if (p_ >= t_.size()) fail("unterminated string");
    ++p_;
    return out;
  }
  Json parse_value() {
    ws();
    if (p_ >= t_.size()) fail("unexpected end");
    Json v;
    const char c = t_[p_];
    if (c == '{') {
      ++p_;
      v.kind_ = Json::Kind::kObject;
      ws();
      if (t_[p_] == '}') {
        ++p_;
        return v;
      }
      while (true) {
        ws();
        std::string k = parse_string();
        ws();
        if (t_[p_++] != ':') fail("expected ':'");
        v.o_[k] = parse_value();
        ws();
        if (t_[p_] == ',') {
          ++p_;
          continue;
        }
        if (t_[p_++] != '}') fail("expected '}'");
        return v;
      }
    }
    if (c == '[') {
      ++p_;
      v.kind_ = Json::Kind::kArray;
      ws();
      if (t_[p_] == ']') {
        ++p_;
        return v;
      }
      while (true) {
        v.a_.push_back(parse_value());
        ws();
        if (t_[p_] == ',') {
          ++p_;
          continue;
        }
        if (t_[p_++] != ']') fail("expected ']'");
        return v;
      }
    }
    if (c == '"') {
      v.kind_ = Json::Kind::kString;
      v.s_ = parse_string();
      return v;
    }
    if (lit("true") || lit("false")) {
      v.kind_ = Json::Kind::kBool;
      v.b_ = t_[p_ - 1] == 'e' && t_[p_ - 2] == 'u';
      return v;
    }
    if (lit("null")) return v;
    char* end = nullptr;
    v.n_ = std::strtod(t_.c_str() + p_, &end);
    if (end == t_.c_str() + p_) fail("unexpected character");
    v.kind_ = Json::Kind::kNumber;
    p_ = size_t(end - t_.c_str());
    return v;
  }

  const std::string& t_;
  size_t p_ = 0;
};

inline Json parse_json(const std::string& text) { return JsonParser(text).parse_document(); }

}  // namespace tqsearch::testing
