// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Results of `tqsearch bench` and their three renderings: the terminal table, JSON and CSV.
///
/// JSON schema (stable; bench/compare.py and other tools read it):
///   { "dataset": str, "d": int, "nb": int, "nq": int, "metric": "ip"|"l2"|"cos",
///     "machine": { "cpu": str, "cores": int },
///     "results": [ { "spec": str, "threads": int, "bits_per_vector": num, "bytes_per_vector": num,
///                    "build_seconds": num, "search_seconds": num, "qps": num,
///                    "recall_at_1": num, "recall_at_10": num|null, "recall_at_100": num|null,
///                    ["recall_at_K": num for any other requested K,]
///                    "recall1_at_k": { "1": num, "2": num, "4": num, …, "64": num } } ] }
/// recall_at_K is K-recall@K (|top-K ∩ true top-K| / K); null when K was not requested or exceeds the search k.
/// recall1_at_k maps k (powers of two up to min(64, search k)) to the fraction of queries whose true nearest
/// neighbor is in the top k. Definitions: tools/eval/recall.h.

#include <cstddef>
#include <string>
#include <vector>

#include "tools/cli/machine_info.h"
#include "tools/eval/recall.h"

namespace tqsearch::cli {

struct BenchResult {
  std::string spec;
  int threads = 1;
  double bits_per_vector = 0;
  double bytes_per_vector = 0;
  double build_seconds = 0;  ///< train + add
  double search_seconds = 0;  ///< all nq queries, one batch
  double qps = 0;
  eval::RecallSummary recall;
};

struct BenchReport {
  std::string dataset;
  size_t d = 0, nb = 0, nq = 0;
  std::string metric;
  MachineInfo machine;
  std::vector<size_t> ks;  ///< requested k-recall@k values
  std::vector<BenchResult> results;
};

std::string bench_json(const BenchReport& report);
std::string bench_csv(const BenchReport& report);
/// Table header (column names and a rule).
std::string bench_table_header(const BenchReport& report);
/// One table row.
std::string bench_table_row(const BenchReport& report, const BenchResult& r);

}  // namespace tqsearch::cli
