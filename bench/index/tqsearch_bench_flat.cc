// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch_bench_flat: recall / QPS / build time of flat IndexTurboQuant against Debian FAISS 1.7.3 flat indexes
// (IndexPQ 8-bit, IndexPQFastScan 4-bit, IndexScalarQuantizer 4/8-bit, IndexLSH, IndexFlat) at matched bytes per
// vector, one process, same data.
//
// NOTE: Debian's FAISS is a generic build without AVX2 (no SIMD fast-scan kernels): its QPS is a weak baseline.
// The speed comparison against the newest FAISS is bench/compare.py.
//
// Usage (from the repository root):
//   build/bench/index/tqsearch_bench_flat [--data ../shared/data] [--sets glove-100-angular,siftsmall]
//       [--large] [--nq N] [--train-rows N] [--threads 1,2] [--methods all|quick|fs|tq|grid|gridtq] [--json FILE]
//   --only "TQ4;TQ4,Center" runs just the listed method labels (';'-separated).
//   --specs "TQ4,Center,Dense;PQ64" runs these tqsearch::index_factory descriptions instead of --methods.
//   --methods: all = TurboQuant + PQ 8-bit + PQ fast-scan + LSH + SQ4/SQ8 + Flat; quick = all but SQ;
//              fs = TurboQuant + PQ fast-scan + Flat (no slow PQ training); tq = TurboQuant + Flat;
//              grid = TurboQuant rates 1–4 × {Center, OptCos, Norm16} + equal-byte rates vs PQx8 + PQx8 + Flat;
//              gridtq = the same without PQ
//   --cosine builds the TurboQuant specs of inner-product sets with IndexMetric::kCosine (index_factory's
//   IndexMetric overload) instead of inner product; FAISS methods stay inner product. Only for unit-norm sets
//   (checked: every row within 1e-3 of norm 1), where the ground truth by inner product is the cosine one.
//   Labels get a " (cos)" suffix.
//   --large (or TQSEARCH_BENCH_LARGE=1) adds the generated sets clustered-1m-128 and clustered-100k-1536
//   (slow on 2 cores: defaults to 200 queries there).
//
// Per method it prints bytes/vector (sa_code_size), build seconds (train + add, all threads), QPS at each
// thread count (batch of all queries, k = 10, best of up to 3 runs after a warm-up) from wall time, and at 1
// thread also from the search thread's CPU time (robust when other processes load the machine), recall@1 (true top-1 is
// the first result), 10-recall@10, and recall@1@k for k = 1..64 (true top-1 within the first k results).

#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <faiss/IndexFastScan.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexLSH.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPQFastScan.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/VectorTransform.h>

#include "index/index_factory.h"
#include "index/index_turbo_quant.h"
#include "quant/simd_level.h"

namespace {

using idx_t = faiss::Index::idx_t;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ------------------------------------------------------------------------------------------------- data

std::vector<float> read_vecs(const std::string& path, int* d, size_t max_rows = SIZE_MAX) {
  std::vector<float> out;
  std::ifstream f(path, std::ios::binary);
  int32_t dim = 0;
  *d = 0;
  size_t rows = 0;
  while (rows < max_rows && f.read(reinterpret_cast<char*>(&dim), 4)) {
    if (*d == 0) *d = dim;
    if (dim != *d || dim <= 0) {
      std::fprintf(stderr, "%s: inconsistent row dimension %d\n", path.c_str(), dim);
      std::exit(2);
    }
    const size_t o = out.size();
    out.resize(o + size_t(dim));
    if (!f.read(reinterpret_cast<char*>(out.data() + o), std::streamsize(dim) * 4)) {
      std::fprintf(stderr, "%s: truncated row %zu\n", path.c_str(), rows);
      std::exit(2);
    }
    ++rows;
  }
  return out;
}

struct Dataset {
  std::string name, source;
  int d = 0;
  size_t nb = 0, nq = 0;
  faiss::MetricType metric = faiss::METRIC_L2;
  std::vector<float> base, queries;
  std::vector<idx_t> gt;  // (nq, gt_k) exact neighbors
  int gt_k = 0;
};

void exact_ground_truth(Dataset& ds, int k) {
  faiss::IndexFlat flat(ds.d, ds.metric);
  flat.add(idx_t(ds.nb), ds.base.data());
  std::vector<float> D(ds.nq * size_t(k));
  ds.gt.resize(ds.nq * size_t(k));
  flat.search(idx_t(ds.nq), ds.queries.data(), k, D.data(), ds.gt.data());
  ds.gt_k = k;
}

bool load_real(const std::string& dir, const std::string& name, size_t nq_max, Dataset* ds) {
  const std::string p = dir + "/" + name;
  int db = 0, dq = 0, dg = 0;
  ds->base = read_vecs(p + "/base.fvecs", &db);
  ds->queries = read_vecs(p + "/query.fvecs", &dq, nq_max);
  std::vector<float> gt_raw = read_vecs(p + "/groundtruth.ivecs", &dg, nq_max);
  if (db == 0 || db != dq || dg == 0) return false;
  ds->name = name;
  ds->d = db;
  ds->nb = ds->base.size() / size_t(db);
  ds->nq = ds->queries.size() / size_t(dq);
  // glove-100-angular and minilm384-* are inner-product sets (../shared/data/README.md), the others L2.
  ds->metric = name.find("angular") != std::string::npos || name.find("minilm") != std::string::npos
                   ? faiss::METRIC_INNER_PRODUCT
                   : faiss::METRIC_L2;
  ds->gt_k = dg;
  ds->gt.resize(gt_raw.size());
  for (size_t i = 0; i < gt_raw.size(); ++i) {
    int32_t v;
    std::memcpy(&v, &gt_raw[i], 4);
    ds->gt[i] = v;
  }
  ds->source = p + " (ground truth from groundtruth.ivecs)";
  return true;
}

/// Gaussian mixture with anisotropic clusters (same law as tests/index): x = mean + c_k + M·(s_k ⊙ z), per-cluster
/// decaying axis scales in random order, shared Gaussian mixing matrix, common offset; `normalize` for IP sets.
Dataset make_clustered(const std::string& name, int d, size_t nb, size_t nq, int clusters, bool normalize,
                       uint64_t seed) {
  Dataset ds;
  ds.name = name;
  ds.d = d;
  ds.nb = nb;
  ds.nq = nq;
  ds.metric = normalize ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> mean(d), centers(size_t(clusters) * d), scales(size_t(clusters) * d), mix(size_t(d) * d);
  for (float& v : mean) v = 2.0f * g(rng);
  for (float& v : centers) v = 1.5f * g(rng);
  const float tau = std::max(2.0f, d / 8.0f);
  for (int c = 0; c < clusters; ++c) {
    std::vector<int> order(d);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int j = 0; j < d; ++j) scales[size_t(c) * d + order[j]] = 0.9f * std::exp(-float(j) / tau) + 0.05f;
  }
  for (float& v : mix) v = g(rng) / std::sqrt(float(d));
  // Rows drawn in parallel from per-row seeds: the data do not depend on the thread count.
  auto gen = [&](size_t n, uint64_t stream) {
    std::vector<float> out(n * size_t(d));
#pragma omp parallel
    {
      std::vector<float> z(d);
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; ++i) {
        std::mt19937_64 r(seed ^ (stream * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull));
        std::normal_distribution<float> gg(0.0f, 1.0f);
        const int c = int(r() % uint64_t(clusters));
        for (int j = 0; j < d; ++j) z[j] = gg(r) * scales[size_t(c) * d + j];
        float* x = out.data() + i * d;
        double ss = 0;
        for (int row = 0; row < d; ++row) {
          float s = mean[row] + centers[size_t(c) * d + row];
          const float* m = mix.data() + size_t(row) * d;
          for (int j = 0; j < d; ++j) s += m[j] * z[j];
          x[row] = s;
          ss += double(s) * s;
        }
        if (normalize) {
          const float inv = float(1.0 / std::sqrt(ss));
          for (int row = 0; row < d; ++row) x[row] *= inv;
        }
      }
    }
    return out;
  };
  ds.base = gen(nb, 1);
  ds.queries = gen(nq, 2);
  std::ostringstream src;
  src << "generated: " << clusters << " anisotropic Gaussian clusters, offset mean, seed " << seed
      << (normalize ? ", unit norm, inner product" : ", L2") << "; exact ground truth by IndexFlat";
  ds.source = src.str();
  exact_ground_truth(ds, 10);
  return ds;
}

// ------------------------------------------------------------------------------------------------- methods

struct Method {
  std::string label;
  std::string family;  // for grouping in the report
  double bits = 0;     // bits per coordinate of the code (TQ: mse bits; FAISS: matched budget)
  std::function<std::unique_ptr<faiss::Index>(int d, faiss::MetricType)> make;
  std::string tq_desc = {};  // tqsearch::index_factory description (TurboQuant methods; --cosine rebuilds from it)
};

int closest_divisor(int d, double target) {
  int best = 1;
  for (int m = 1; m <= d; ++m) {
    if (d % m == 0 && std::fabs(m - target) < std::fabs(best - target)) best = m;
  }
  return best;
}

std::string rate_string(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", r);
  return buf;
}

std::vector<Method> methods_for(int d, faiss::MetricType metric, const std::string& which) {
  std::vector<Method> out;
  auto tq = [&](const std::string& desc, double bits) {
    out.push_back({desc, "TurboQuant", bits,
                   [desc](int dd, faiss::MetricType m) { return tqsearch::index_factory(dd, desc, m); }, desc});
  };
  if (which == "grid" || which == "gridtq") {
    // Recall per byte of the TurboQuant options: internal centering × optimize_cosine × fp16 norm × rate, against
    // IndexPQ (8-bit subquantizers) at 1, 2, 4 bits per coordinate and exact Flat.
    for (int b : {1, 2, 3, 4}) {
      const std::string r = "TQ" + std::to_string(b);
      for (const char* opt : {"", ",Center", ",OptCos", ",Center,OptCos", ",Norm16", ",Center,Norm16",
                              ",OptCos,Norm16", ",Center,OptCos,Norm16"})
        tq(r + opt, b);
    }
    // Equal bytes with PQ<d·b/8>x8 at b = 2, 4: mse bits = 8·(d·b/8 − 6) / d with a 2-byte norm and 4-byte ρ.
    for (int b : {2, 4}) {
      const double rate = 8.0 * (d * b / 8.0 - 6.0) / d;
      if (rate < 1) continue;
      const std::string r = "TQ" + rate_string(rate);
      for (const char* opt : {",Norm16", ",Center,Norm16", ",Center,OptCos,Norm16"}) tq(r + opt, rate);
    }
    for (int b : {1, 2, 4}) {
      if (which == "gridtq") break;
      const int m8 = closest_divisor(d, d * b / 8.0);
      out.push_back({"PQ" + std::to_string(m8) + "x8", "FAISS PQ", double(b), [m8](int dd, faiss::MetricType m) {
                       return std::unique_ptr<faiss::Index>(new faiss::IndexPQ(dd, size_t(m8), 8, m));
                     }});
    }
    out.push_back({"Flat", "exact", 32, [](int dd, faiss::MetricType m) {
                     return std::unique_ptr<faiss::Index>(new faiss::IndexFlat(dd, m));
                   }});
    return out;
  }
  for (int b : {1, 2, 4}) {
    const std::string s = std::to_string(b);
    tq("TQ" + s + ",MSE", b);
    tq("TQ" + s + ",QJL", b);
    tq("TQ" + s, b);  // renorm (default)
  }
  tq("TQ3,QJL", 3);  // ablation at 4 bits per coordinate in all: 3 mse + 1 QJL vs TQ4,MSE / TQ4
  tq("TQ3", 3);
  tq("TQ3.5", 3.5);  // fractional rate: the byte budget of 4-bit PQ / SQ once the two stored floats are counted
  if (metric == faiss::METRIC_L2) {
    // Centering (FIELD.md): subtract the training mean (faiss::CenteringTransform) before the data-oblivious
    // codes. Exact for L2 ranking; costs one d-float vector, not per-vector bytes.
    // Label "CT,TQb" (FAISS transform); the index's own centering is the "TQb,Center" rows.
    for (int b : {2, 4}) {
      const std::string desc = "TQ" + std::to_string(b);
      tq(desc + ",Center", b);
      out.push_back({"CT," + desc, "TurboQuant", double(b), [desc](int dd, faiss::MetricType m) {
                       auto t = std::make_unique<faiss::IndexPreTransform>(new faiss::CenteringTransform(dd),
                                                                           tqsearch::index_factory(dd, desc, m).release());
                       t->own_fields = true;
                       return std::unique_ptr<faiss::Index>(std::move(t));
                     }});
    }
  }
  for (int b : {1, 2, 4}) {
    if (which == "tq") break;
    // IndexPQ with 8-bit subquantizers: M·8 = b·d bits.
    const int m8 = closest_divisor(d, d * b / 8.0);
    if (which != "fs") {
      out.push_back({"PQ" + std::to_string(m8) + "x8", "FAISS PQ", double(b), [m8](int dd, faiss::MetricType m) {
                       return std::unique_ptr<faiss::Index>(new faiss::IndexPQ(dd, size_t(m8), 8, m));
                     }});
    }
    // IndexPQFastScan with 4-bit subquantizers: M·4 = b·d bits.
    const int m4 = closest_divisor(d, d * b / 4.0);
    out.push_back({"PQ" + std::to_string(m4) + "x4fs", "FAISS PQ fast-scan", double(b), [m4](int dd, faiss::MetricType m) {
                     return std::unique_ptr<faiss::Index>(new faiss::IndexPQFastScan(dd, size_t(m4), 4, m));
                   }});
    if (which == "fs") continue;
    // IndexLSH: b·d random-projection sign bits.
    out.push_back({"LSH" + std::to_string(b * d) + "rt", "FAISS LSH", double(b), [b](int dd, faiss::MetricType) {
                     return std::unique_ptr<faiss::Index>(new faiss::IndexLSH(dd, b * dd, true, false));
                   }});
  }
  if (which == "all") {
    out.push_back({"SQ4", "FAISS SQ", 4, [](int dd, faiss::MetricType m) {
                     return std::unique_ptr<faiss::Index>(
                         new faiss::IndexScalarQuantizer(dd, faiss::ScalarQuantizer::QT_4bit, m));
                   }});
    out.push_back({"SQ8", "FAISS SQ", 8, [](int dd, faiss::MetricType m) {
                     return std::unique_ptr<faiss::Index>(
                         new faiss::IndexScalarQuantizer(dd, faiss::ScalarQuantizer::QT_8bit, m));
                   }});
  }
  out.push_back({"Flat", "exact", 32, [](int dd, faiss::MetricType m) {
                   return std::unique_ptr<faiss::Index>(new faiss::IndexFlat(dd, m));
                 }});
  return out;
}

// ------------------------------------------------------------------------------------------------- measuring

struct Row {
  std::string dataset, label, family;
  double bits = 0, bytes_per_vector = 0, build_s = 0, train_s = 0;
  std::vector<std::pair<int, double>> qps;  // (threads, QPS from wall time)
  double qps_cpu1 = 0;                       // 1 thread, QPS from the thread's CPU time
  double r1 = 0, r10 = 0;
  std::vector<double> r1_at_k;  // k = 1..64
};

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

/// Best wall seconds of up to 3 runs (stops once 1 s was spent); *cpu_best receives the calling thread's CPU
/// seconds of the best-CPU run (equal to the work when the search runs on 1 thread, and insensitive to other
/// processes competing for the cores).
double timed_search(const faiss::Index& index, const Dataset& ds, int k, double* cpu_best) {
  std::vector<float> D(ds.nq * size_t(k));
  std::vector<idx_t> I(ds.nq * size_t(k));
  index.search(idx_t(std::min<size_t>(16, ds.nq)), ds.queries.data(), k, D.data(), I.data());  // warm-up
  double best = 1e30, spent = 0;
  *cpu_best = 1e30;
  for (int rep = 0; rep < 3 && (rep == 0 || spent < 1.0); ++rep) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    index.search(idx_t(ds.nq), ds.queries.data(), k, D.data(), I.data());
    *cpu_best = std::min(*cpu_best, thread_cpu_seconds() - c0);
    const double s = seconds_since(t0);
    best = std::min(best, s);
    spent += s;
  }
  return best;
}

Row run_method(const Dataset& ds, const Method& m, size_t train_rows, const std::vector<int>& threads,
               int build_threads, bool cosine) {
  Row row;
  row.dataset = ds.name;
  row.label = m.label;
  row.family = m.family;
  row.bits = m.bits;
  omp_set_num_threads(build_threads);
  std::unique_ptr<faiss::Index> index;
  if (cosine && !m.tq_desc.empty()) {
    index = tqsearch::index_factory(ds.d, m.tq_desc, tqsearch::IndexMetric::kCosine);
    row.label += " (cos)";
  } else {
    index = m.make(ds.d, ds.metric);
  }
  const auto t0 = Clock::now();
  if (!index->is_trained) {
    // Train on a fixed random subsample (PQ k-means on all 100k rows takes minutes on 2 cores).
    const size_t nt = std::min(train_rows, ds.nb);
    std::vector<size_t> perm(ds.nb);
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(1234);
    for (size_t i = 0; i < nt; ++i) std::swap(perm[i], perm[i + rng() % (ds.nb - i)]);
    std::vector<float> xt(nt * size_t(ds.d));
    for (size_t i = 0; i < nt; ++i)
      std::memcpy(xt.data() + i * ds.d, ds.base.data() + perm[i] * ds.d, sizeof(float) * size_t(ds.d));
    index->train(idx_t(nt), xt.data());
    row.train_s = seconds_since(t0);
  }
  index->add(idx_t(ds.nb), ds.base.data());
  row.build_s = seconds_since(t0);
  // Code bytes per vector as FAISS reports them (1.7.3 lacks sa_code_size for LSH and fast-scan).
  if (auto* lsh = dynamic_cast<faiss::IndexLSH*>(index.get())) {
    row.bytes_per_vector = double(lsh->code_size);
  } else if (auto* fs = dynamic_cast<faiss::IndexFastScan*>(index.get())) {
    row.bytes_per_vector = double(fs->M * fs->nbits) / 8.0;
  } else {
    row.bytes_per_vector = double(index->sa_code_size());
  }

  const int kr = 64;
  std::vector<float> D(ds.nq * size_t(kr));
  std::vector<idx_t> I(ds.nq * size_t(kr));
  index->search(idx_t(ds.nq), ds.queries.data(), kr, D.data(), I.data());
  size_t hit1 = 0, hit10 = 0;
  std::vector<size_t> at_k(kr, 0);
  for (size_t q = 0; q < ds.nq; ++q) {
    const idx_t* res = I.data() + q * kr;
    const idx_t* gt = ds.gt.data() + q * size_t(ds.gt_k);
    hit1 += res[0] == gt[0];
    for (int j = 0; j < 10; ++j)
      for (int t = 0; t < 10 && t < ds.gt_k; ++t) hit10 += res[j] == gt[t];
    for (int j = 0; j < kr; ++j) {
      if (res[j] == gt[0]) {
        for (int k = j; k < kr; ++k) ++at_k[size_t(k)];
        break;
      }
    }
  }
  row.r1 = double(hit1) / double(ds.nq);
  row.r10 = double(hit10) / double(10 * ds.nq);
  for (int k = 0; k < kr; ++k) row.r1_at_k.push_back(double(at_k[size_t(k)]) / double(ds.nq));
  for (int t : threads) {
    omp_set_num_threads(t);
    double cpu = 0;
    row.qps.emplace_back(t, double(ds.nq) / timed_search(*index, ds, 10, &cpu));
    if (t == 1) row.qps_cpu1 = double(ds.nq) / cpu;
  }
  omp_set_num_threads(build_threads);
  return row;
}

// ------------------------------------------------------------------------------------------------- report

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

void print_table(const Dataset& ds, const std::vector<Row>& rows, const std::vector<int>& threads) {
  std::printf("\n### %s (%zu x %d, %zu queries, %s)\n\n", ds.name.c_str(), ds.nb, ds.d, ds.nq,
              ds.metric == faiss::METRIC_INNER_PRODUCT ? "inner product" : "L2");
  std::printf("Source: %s\n\n", ds.source.c_str());
  std::printf("| method | bytes/vec | build s | QPS 1t CPU |");
  for (int t : threads) std::printf(" QPS %dt |", t);
  std::printf(" R@1 | 10-R@10 | R@1@1 | @2 | @4 | @8 | @16 | @32 | @64 |\n|---|---|---|---|");
  for (size_t i = 0; i < threads.size(); ++i) std::printf("---|");
  std::printf("---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %.1f | %.2f | %.0f |", r.label.c_str(), r.bytes_per_vector, r.build_s, r.qps_cpu1);
    for (const auto& [t, q] : r.qps) std::printf(" %.0f |", q);
    std::printf(" %.3f | %.3f |", r.r1, r.r10);
    for (int k : {1, 2, 4, 8, 16, 32, 64}) std::printf(" %.3f |", r.r1_at_k[size_t(k - 1)]);
    std::printf("\n");
  }
  std::printf("\nrecall@1@k curves (k = 1..64), CSV:\n```\ndataset,method");
  for (int k = 1; k <= 64; ++k) std::printf(",k%d", k);
  std::printf("\n");
  for (const Row& r : rows) {
    std::printf("%s,\"%s\"", r.dataset.c_str(), r.label.c_str());
    for (double v : r.r1_at_k) std::printf(",%.3f", v);
    std::printf("\n");
  }
  std::printf("```\n");
  std::fflush(stdout);
}

void write_json(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream f(path);
  f << "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    for (size_t t = 0; t < r.qps.size(); ++t) {
      f << "{\"dataset\": \"" << r.dataset << "\", \"spec\": \"" << r.label << "\", \"family\": \"" << r.family
        << "\", \"threads\": " << r.qps[t].first << ", \"bits_per_vector\": " << 8 * r.bytes_per_vector
        << ", \"bytes_per_vector\": " << r.bytes_per_vector << ", \"build_seconds\": " << r.build_s
        << ", \"train_seconds\": " << r.train_s << ", \"qps\": " << r.qps[t].second
        << ", \"qps_thread_cpu_1t\": " << r.qps_cpu1
        << ", \"recall_at_1\": " << r.r1 << ", \"recall_at_10\": " << r.r10 << ", \"recall1_at_k_curve\": [";
      for (size_t k = 0; k < r.r1_at_k.size(); ++k) f << (k ? ", " : "") << r.r1_at_k[k];
      f << "]}" << (i + 1 == rows.size() && t + 1 == r.qps.size() ? "\n" : ",\n");
    }
  }
  f << "]\n";
}

std::vector<std::string> split(const std::string& s, char c) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, c)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "../shared/data";
  std::string sets = "glove-100-angular,siftsmall";
  std::string which = "all";
  std::string json;
  size_t nq_max = 1000, train_rows = 32768;
  bool nq_given = false;
  bool cosine = false;
  std::vector<int> threads = {1, 2};
  std::vector<std::string> only;   // --only "TQ4;TQ4,Center": run just these labels
  std::vector<std::string> specs;  // --specs "TQ4,Center,Dense;PQ64": any tqsearch::index_factory descriptions
  bool large = std::getenv("TQSEARCH_BENCH_LARGE") != nullptr && std::string(std::getenv("TQSEARCH_BENCH_LARGE")) == "1";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data") data_dir = next();
    else if (a == "--sets") sets = next();
    else if (a == "--large") large = true;
    else if (a == "--cosine") cosine = true;
    else if (a == "--nq") { nq_max = std::stoul(next()); nq_given = true; }
    else if (a == "--train-rows") train_rows = std::stoul(next());
    else if (a == "--methods") which = next();
    else if (a == "--json") json = next();
    else if (a == "--only") only = split(next(), ';');
    else if (a == "--specs") specs = split(next(), ';');
    else if (a == "--threads") {
      threads.clear();
      for (const auto& t : split(next(), ',')) threads.push_back(std::stoi(t));
    } else {
      std::fprintf(stderr,
                   "usage: %s [--data DIR] [--sets a,b] [--large] [--nq N] [--train-rows N] [--threads 1,2] "
                   "[--methods all|quick|fs|tq|grid|gridtq] [--only \"L1;L2\"] [--specs \"D1;D2\"] [--cosine] "
                   "[--json FILE]\n",
                   argv[0]);
      return a == "--help" ? 0 : 2;
    }
  }
  const int build_threads = omp_get_max_threads();
  std::printf("## tqsearch_bench_flat\n\nMachine: %s, %d OpenMP threads, tqsearch SIMD level %s. FAISS: Debian "
              "1.7.3 generic build (no AVX2): a weak speed baseline.\n",
              cpu_model().c_str(), build_threads, std::string(tqsearch::simd_level_name(tqsearch::simd_level())).c_str());
  std::printf("Build = train + add with %d threads; FAISS training on a random subsample of %zu rows; QPS: batch "
              "of all queries, k = 10, best of up to 3 runs.\n",
              build_threads, train_rows);
  std::fflush(stdout);

  std::vector<std::string> names = split(sets, ',');
  if (large) {
    names.push_back("clustered-1m-128");
    names.push_back("clustered-100k-1536");
  }
  std::vector<Row> all;
  for (const std::string& name : names) {
    Dataset ds;
    const auto t0 = Clock::now();
    if (name == "clustered-1m-128") {
      ds = make_clustered(name, 128, 1000000, nq_given ? nq_max : 200, 300, false, 1234);
    } else if (name == "clustered-100k-1536") {
      ds = make_clustered(name, 1536, 100000, nq_given ? nq_max : 200, 300, true, 5678);
    } else if (name.rfind("clustered-", 0) == 0) {
      std::fprintf(stderr, "unknown generated set %s\n", name.c_str());
      return 2;
    } else if (!load_real(data_dir, name, nq_max, &ds)) {
      std::fprintf(stderr, "dataset %s not found under %s (skipped)\n", name.c_str(), data_dir.c_str());
      continue;
    }
    std::fprintf(stderr, "[%s] %zu x %d, %zu queries ready in %.1f s\n", name.c_str(), ds.nb, ds.d, ds.nq,
                 seconds_since(t0));
    bool cosine_here = false;
    if (cosine && ds.metric == faiss::METRIC_INNER_PRODUCT) {
      // Cosine ranks like inner product only on unit rows: otherwise the ground truth would be wrong.
      double worst = 0;
      for (const std::vector<float>* v : {&ds.base, &ds.queries}) {
        for (size_t i = 0; i < v->size() / size_t(ds.d); ++i) {
          double s = 0;
          for (int j = 0; j < ds.d; ++j) s += double((*v)[i * ds.d + j]) * (*v)[i * ds.d + j];
          worst = std::max(worst, std::fabs(std::sqrt(s) - 1.0));
        }
      }
      if (worst > 1e-3) {
        std::fprintf(stderr, "--cosine: %s is not unit norm (a row's norm is off 1 by %.3g); its TQ specs stay "
                     "inner product\n", name.c_str(), worst);
      } else {
        cosine_here = true;
      }
    }
    std::vector<Row> rows;
    std::vector<Method> methods;
    if (specs.empty()) {
      methods = methods_for(ds.d, ds.metric, which);
    } else {
      for (const std::string& sp : specs) {
        const bool tq = sp.find("TQ") != std::string::npos;
        methods.push_back({sp, tq ? "TurboQuant" : "FAISS", 0,
                           [sp](int dd, faiss::MetricType m) { return tqsearch::index_factory(dd, sp, m); },
                           tq ? sp : std::string()});
      }
    }
    for (const Method& m : methods) {
      if (!only.empty() && std::find(only.begin(), only.end(), m.label) == only.end()) continue;
      rows.push_back(run_method(ds, m, train_rows, threads, build_threads, cosine_here));
      const Row& r = rows.back();
      std::fprintf(stderr, "  %-14s %6.1f B  build %7.2f s  qps1 %8.0f (cpu %8.0f)  R@1 %.3f  10-R@10 %.3f\n",
                   r.label.c_str(), r.bytes_per_vector, r.build_s, r.qps.empty() ? 0.0 : r.qps[0].second, r.qps_cpu1,
                   r.r1, r.r10);
    }
    print_table(ds, rows, threads);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  if (!json.empty()) write_json(json, all);
  return 0;
}
