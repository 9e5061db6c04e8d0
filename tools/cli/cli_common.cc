// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/cli_common.h"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <random>

#include "quant/error.h"
#include "tools/cli/index_summary.h"
#include "tools/cli/progress.h"
#include "tools/io/file_format.h"
#include "tools/io/hdf5_format.h"

namespace tqsearch::cli {

IndexMetric parse_metric(const std::string& name) {
  if (name == "ip" || name == "dot" || name == "inner_product") return IndexMetric::kInnerProduct;
  if (name == "l2" || name == "euclidean") return IndexMetric::kL2;
  if (name == "cos" || name == "cosine" || name == "angular") return IndexMetric::kCosine;
  TQ_THROW("--metric: unknown metric '" << name << "'; expected ip, l2 or cos");
}

std::string metric_short_name(IndexMetric m) {
  switch (m) {
    case IndexMetric::kInnerProduct: return "ip";
    case IndexMetric::kL2: return "l2";
    case IndexMetric::kCosine: return "cos";
  }
  return "?";
}

std::optional<IndexMetric> metric_from_file(const std::string& path) {
  const io::FileLocation loc = io::parse_location(path);
  if (loc.format != io::FileFormat::kHdf5 || !io::hdf5_supported()) return std::nullopt;
  const auto d = io::hdf5_file_attribute(loc.file, "distance");
  if (!d) return std::nullopt;
  try {
    return parse_metric(*d);
  } catch (const Error&) {
    TQ_THROW(loc.file << ": distance attribute '" << *d << "' is not supported (euclidean, angular, dot); pass "
                         "--metric");
  }
}

void set_threads(int n) {
  TQ_CHECK(n >= 1, "--threads must be >= 1, got " << n);
  omp_set_num_threads(n);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

std::vector<size_t> sample_row_ids(size_t rows, size_t max_rows) {
  std::vector<size_t> pick;
  if (max_rows == 0 || max_rows >= rows) {
    pick.resize(rows);
    for (size_t i = 0; i < rows; ++i) pick[i] = i;
    return pick;
  }
  // Floyd's algorithm: max_rows distinct rows, then ascending for sequential reads.
  std::mt19937_64 rng(0x7153ull);
  pick.reserve(max_rows);
  std::vector<char> taken(rows, 0);
  for (size_t j = rows - max_rows; j < rows; ++j) {
    const size_t t = std::uniform_int_distribution<size_t>(0, j)(rng);
    const size_t row = taken[t] ? j : t;
    taken[row] = 1;
    pick.push_back(row);
  }
  std::sort(pick.begin(), pick.end());
  return pick;
}

std::vector<float> read_training_sample(io::MatrixReader& reader, size_t max_rows, size_t* count) {
  const size_t rows = reader.rows(), d = reader.cols();
  std::vector<float> out;
  if (max_rows == 0 || max_rows >= rows) {
    out.resize(rows * d);
    reader.read_floats(0, rows, out.data());
    *count = rows;
    return out;
  }
  const std::vector<size_t> pick = sample_row_ids(rows, max_rows);
  out.resize(pick.size() * d);
  for (size_t i = 0; i < pick.size(); ++i) reader.read_floats(pick[i], 1, out.data() + i * d);
  *count = pick.size();
  return out;
}

std::vector<FlagSpec> scan_param_flags() {
  return {
      {"prefix-z", "Z",
       "TurboQuant prefix scans (TQ4,Scan2): rescore rows within Z·σ of the k-th best (default 2; 0.25: faster, a "
       "little less recall)",
       false, ""},
      {"lut-max", "M", "TurboQuant scan LUT entries 0..M: 255 (default), 127 or 63 (faster, bounded by --lut-z)", false,
       ""},
      {"lut-z", "Z", "TurboQuant coarse-LUT bound z (default 3)", false, ""},
  };
}

namespace {
float parse_z(const std::string& text, const std::string& flag) {
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  TQ_CHECK(!text.empty() && end != nullptr && *end == '\0' && errno == 0,
           "--" << flag << ": '" << text << "' is not a number");
  TQ_CHECK(std::isfinite(v) && v >= 0, "--" << flag << ": " << text << " must be a finite number >= 0");
  return v;
}
}  // namespace

bool apply_scan_params(faiss::Index& index, const ParsedArgs& args, const std::string& what, bool required) {
  if (!args.has("prefix-z") && !args.has("lut-max") && !args.has("lut-z")) return true;
  IndexTurboQuant* tq = find_turbo_quant(&index);
  if (tq == nullptr) {
    TQ_CHECK(!required, "--prefix-z / --lut-max / --lut-z: " << what << " holds no TurboQuant index");
    return false;
  }
  FlatSearchParams p = tq->options().search;
  if (args.has("prefix-z")) p.prefix_z = parse_z(args.get("prefix-z"), "prefix-z");
  if (args.has("lut-z")) p.lut_z = parse_z(args.get("lut-z"), "lut-z");
  if (args.has("lut-max")) {
    p.lut_max = int(args.get_int("lut-max", 0, 255));
    TQ_CHECK(p.lut_max == 63 || p.lut_max == 127 || p.lut_max == 255,
             "--lut-max: " << p.lut_max << " is not one of 63, 127, 255");
  }
  tq->set_search_params(p);
  return true;
}

std::pair<double, double> train_and_add(faiss::Index& index, io::MatrixReader& reader, size_t train_size,
                                        const int64_t* ids) {
  double train_s = 0;
  if (!index.is_trained) {
    const double t0 = now_seconds();
    size_t n = 0;
    std::vector<float> sample = read_training_sample(reader, train_size, &n);
    std::fprintf(stderr, "training on %zu vectors...\n", n);
    index.train(faiss::Index::idx_t(n), sample.data());
    train_s = now_seconds() - t0;
    std::fprintf(stderr, "trained in %.2f s\n", train_s);
  }
  const double t0 = now_seconds();
  Progress progress("adding", reader.rows(), "vectors");
  io::for_each_float_chunk(reader, 65536, [&](size_t begin, size_t count, const float* rows) {
    if (ids != nullptr) {
      index.add_with_ids(faiss::Index::idx_t(count), rows, ids + begin);
    } else {
      index.add(faiss::Index::idx_t(count), rows);
    }
    progress.update(begin + count);
  });
  progress.finish();
  return {train_s, now_seconds() - t0};
}

}  // namespace tqsearch::cli
