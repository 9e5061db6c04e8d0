// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Progress reporting on stderr for long CLI steps (adding vectors, ground truth): on a terminal a bar redrawn in
/// place with rate and ETA; when stderr is piped or redirected, one plain line at most every few seconds, so logs
/// stay readable. Always ends with a one-line summary.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tqsearch::cli {

class Progress {
 public:
  /// @param label  what is being done ("adding", "ground truth")
  /// @param total  units of work (> 0)
  /// @param unit   name of a unit ("vectors")
  Progress(std::string label, uint64_t total, std::string unit, std::FILE* out = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `done` units are finished (monotone). Redraws at most 10×/s on a terminal, every 5 s otherwise.
  void update(uint64_t done);
  /// Prints the final summary line ("label: 100000 vectors in 1.23 s (81.3k vectors/s)").
  void finish();

  /// "12.3k", "4.56M": compact count for rates.
  static std::string compact(double v);
  /// "4s", "2m05s", "1h02m".
  static std::string duration(double seconds);

 private:
  void print(uint64_t done, bool final_line);

  std::string label_, unit_;
  uint64_t total_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  uint64_t done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace tqsearch::cli
