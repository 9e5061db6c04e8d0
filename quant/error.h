// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The one exception type of tqsearch and the boundary-check macro.
///
/// Every public entry point validates its arguments and throws `tqsearch::Error` (a `std::runtime_error`)
/// with a message naming what was wrong, the offending value and what is allowed. Hot loops use `assert`
/// only. quant/ knows no FAISS: the index layer translates where it must.

#include <sstream>
#include <stdexcept>
#include <string>

namespace tqsearch {

/// Thrown for invalid arguments, malformed files and unsupported configurations.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace internal {
[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  (void)file;
  (void)line;
  throw Error(msg);
}
}  // namespace internal

}  // namespace tqsearch

/// TQ_CHECK(cond, stream-expression): throws tqsearch::Error with the streamed message when cond is false.
/// Example: TQ_CHECK(d > 0, "dimension d must be > 0, got " << d);
#define TQ_CHECK(cond, msg)                                                      \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::ostringstream tq_check_os_;                                           \
      tq_check_os_ << msg;                                                       \
      ::tqsearch::internal::throw_error(__FILE__, __LINE__, tq_check_os_.str()); \
    }                                                                            \
  } while (0)

/// TQ_THROW(stream-expression): unconditional error.
#define TQ_THROW(msg) TQ_CHECK(false, msg)
