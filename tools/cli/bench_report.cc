// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/bench_report.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "tools/cli/json_writer.h"

namespace tqsearch::cli {

namespace {

/// k-recall@k keys: always 1, 10, 100 (stable schema), plus any other requested k.
std::vector<size_t> recall_keys(const BenchReport& report) {
  std::set<size_t> keys = {1, 10, 100};
  keys.insert(report.ks.begin(), report.ks.end());
  return {keys.begin(), keys.end()};
}

std::string num(double v, const char* f) {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(const std::string& s, size_t w, bool left = false) {
  if (s.size() >= w) return s;
  return left ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
}

size_t spec_width(const BenchReport& report) {
  size_t w = 4;
  for (const auto& r : report.results) w = std::max(w, r.spec.size());
  return std::max<size_t>(w, 12);
}

std::vector<size_t> table_ks(const BenchReport& report) {
  std::vector<size_t> ks;
  for (size_t k : report.ks) {
    if (k != 1) ks.push_back(k);
  }
  return ks;
}

}  // namespace

std::string bench_json(const BenchReport& report) {
  JsonWriter j;
  j.begin_object();
  j.key("dataset").value(report.dataset);
  j.key("d").value(report.d).key("nb").value(report.nb).key("nq").value(report.nq);
  j.key("metric").value(report.metric);
  j.key("machine").begin_object().key("cpu").value(report.machine.cpu_model).key("cores").value(report.machine.cores);
  j.end_object();
  j.key("results").begin_array();
  for (const BenchResult& r : report.results) {
    j.begin_object();
    j.key("spec").value(r.spec).key("threads").value(r.threads);
    j.key("bits_per_vector").value(r.bits_per_vector).key("bytes_per_vector").value(r.bytes_per_vector);
    j.key("build_seconds").value(r.build_seconds).key("search_seconds").value(r.search_seconds);
    j.key("qps").value(r.qps);
    for (size_t k : recall_keys(report)) {
      j.key("recall_at_" + std::to_string(k));
      if (k == 1) {
        j.value(r.recall.recall_at_1);
      } else if (auto it = r.recall.k_recall_at_k.find(k); it != r.recall.k_recall_at_k.end()) {
        j.value(it->second);
      } else {
        j.null();
      }
    }
    j.key("recall1_at_k").begin_object();
    for (const auto& [k, v] : r.recall.recall1_at_k) j.key(std::to_string(k)).value(v);
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

std::string bench_csv(const BenchReport& report) {
  std::ostringstream os;
  os << "dataset,metric,nb,nq,d,spec,threads,bits_per_vector,bytes_per_vector,build_seconds,search_seconds,qps";
  const std::vector<size_t> keys = recall_keys(report);
  for (size_t k : keys) os << ",recall_at_" << k;
  for (size_t k = 1; k <= 64; k *= 2) os << ",recall1_at_" << k;
  os << "\n";
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (const BenchResult& r : report.results) {
    os << quote(report.dataset) << "," << report.metric << "," << report.nb << "," << report.nq << "," << report.d
       << "," << quote(r.spec) << "," << r.threads << "," << num(r.bits_per_vector, "%.17g") << ","
       << num(r.bytes_per_vector, "%.17g") << "," << num(r.build_seconds, "%.6g") << ","
       << num(r.search_seconds, "%.6g") << "," << num(r.qps, "%.6g");
    for (size_t k : keys) {
      os << ",";
      if (k == 1) {
        os << num(r.recall.recall_at_1, "%.17g");
      } else if (auto it = r.recall.k_recall_at_k.find(k); it != r.recall.k_recall_at_k.end()) {
        os << num(it->second, "%.17g");
      }
    }
    for (size_t k = 1; k <= 64; k *= 2) {
      os << ",";
      if (auto it = r.recall.recall1_at_k.find(k); it != r.recall.recall1_at_k.end()) os << num(it->second, "%.17g");
    }
    os << "\n";
  }
  return os.str();
}

std::string bench_table_header(const BenchReport& report) {
  std::ostringstream os;
  const size_t sw = spec_width(report);
  os << pad("spec", sw, true) << "  thr  bits/vec  bytes/vec  build s       QPS  recall@1";
  for (size_t k : table_ks(report)) os << pad(std::to_string(k) + "-R@" + std::to_string(k), 10);
  os << "  recall@1@k (k = 1 2 4 8 16 32 64)\n";
  const size_t width = os.str().size() - 1;
  os << std::string(width, '-') << "\n";
  return os.str();
}

std::string bench_table_row(const BenchReport& report, const BenchResult& r) {
  std::ostringstream os;
  os << pad(r.spec, spec_width(report), true) << pad(std::to_string(r.threads), 5)
     << pad(num(r.bits_per_vector, r.bits_per_vector == double(int64_t(r.bits_per_vector)) ? "%.0f" : "%.1f"), 10)
     << pad(num(r.bytes_per_vector, "%.1f"), 11) << pad(num(r.build_seconds, "%.2f"), 9)
     << pad(num(r.qps, "%.0f"), 10) << pad(num(r.recall.recall_at_1, "%.3f"), 10);
  for (size_t k : table_ks(report)) {
    auto it = r.recall.k_recall_at_k.find(k);
    os << pad(it == r.recall.k_recall_at_k.end() ? "-" : num(it->second, "%.3f"), 10);
  }
  os << "  ";
  for (const auto& [k, v] : r.recall.recall1_at_k) os << " " << num(v, "%.3f");
  os << "\n";
  return os.str();
}

}  // namespace tqsearch::cli
