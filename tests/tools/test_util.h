// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
// Helpers for the tools/ tests: a self-deleting temporary directory, raw file crafting, error-message checks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "quant/error.h"

namespace tqsearch::testing {

/// mkdtemp under $TMPDIR (or /tmp); removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base ? base : "/tmp") + "/tqsearch-tools-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char* p = ::mkdtemp(buf.data());
    if (p == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

/// Bytes appended in little-endian machine order.
class Bytes {
 public:
  template <class T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    data_.append(p, sizeof(T));
    return *this;
  }
  template <class T>
  Bytes& put_all(const std::vector<T>& v) {
    for (const T& x : v) put(x);
    return *this;
  }
  Bytes& str(std::string_view s) {
    data_.append(s);
    return *this;
  }
  const std::string& data() const { return data_; }
  size_t size() const { return data_.size(); }

 private:
  std::string data_;
};

inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Runs fn, expects a tqsearch::Error whose message contains every one of `parts`; returns the message.
inline std::string expect_error(const std::function<void()>& fn, std::initializer_list<std::string_view> parts) {
  try {
    fn();
  } catch (const tqsearch::Error& e) {
    const std::string msg = e.what();
    for (std::string_view p : parts) EXPECT_THAT(msg, ::testing::HasSubstr(std::string(p))) << "message: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected tqsearch::Error, got another exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a tqsearch::Error, nothing was thrown";
  return {};
}

}  // namespace tqsearch::testing
