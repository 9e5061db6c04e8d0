// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace tqsearch::cli {

namespace {
constexpr double kTtyInterval = 0.1;
constexpr double kPipeInterval = 5.0;
constexpr int kBarWidth = 30;
}  // namespace

Progress::Progress(std::string label, uint64_t total, std::string unit, std::FILE* out)
    : label_(std::move(label)), unit_(std::move(unit)), total_(std::max<uint64_t>(total, 1)), out_(out) {
  tty_ = ::isatty(::fileno(out_)) == 1;
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (tty_ && !finished_ && done_ > 0) std::fputc('\n', out_);  // leave the terminal on a fresh line
}

std::string Progress::compact(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

std::string Progress::duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = long(std::lround(s));
  if (t < 60) {
    std::snprintf(buf, sizeof buf, "%lds", t);
  } else if (t < 3600) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  }
  return buf;
}

void Progress::update(uint64_t done) {
  done_ = std::min(done, total_);
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? kTtyInterval : kPipeInterval)) return;
  last_ = now;
  print(done_, false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  print(done_ == 0 ? total_ : std::max(done_, total_), true);
}

void Progress::print(uint64_t done, bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0;
  const double frac = double(done) / double(total_);
  if (final_line) {
    if (tty_) std::fputs("\r\033[K", out_);
    std::fprintf(out_, "%s: %llu %s in %.2f s (%s %s/s)\n", label_.c_str(), (unsigned long long)done, unit_.c_str(),
                 elapsed, compact(rate).c_str(), unit_.c_str());
    std::fflush(out_);
    return;
  }
  const std::string eta = rate > 0 ? duration(double(total_ - done) / rate) : "?";
  if (tty_) {
    const int filled = int(frac * kBarWidth);
    std::string bar(size_t(filled), '=');
    if (filled < kBarWidth) bar += '>';
    bar.resize(kBarWidth, ' ');
    std::fprintf(out_, "\r\033[K%s [%s] %3.0f%% %llu/%llu %s, %s/s, ETA %s", label_.c_str(), bar.c_str(), 100 * frac,
                 (unsigned long long)done, (unsigned long long)total_, unit_.c_str(), compact(rate).c_str(),
                 eta.c_str());
  } else {
    std::fprintf(out_, "%s: %llu/%llu %s (%.0f%%), %s/s, ETA %s\n", label_.c_str(), (unsigned long long)done,
                 (unsigned long long)total_, unit_.c_str(), 100 * frac, compact(rate).c_str(), eta.c_str());
  }
  std::fflush(out_);
}

}  // namespace tqsearch::cli
