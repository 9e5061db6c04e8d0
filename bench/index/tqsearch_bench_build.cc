// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch_bench_build: build time of IndexTurboQuant (index_factory "TQ<b>", and "TQ<b>,Center" whose train() is a
// mean) against FAISS IndexPQ train + add at the same mse bits per vector (M = d·b/8 subquantizers of 8 bits), on
// the same vectors, in one process, one thread, CPU time of the thread. The goal: build >= 1000× faster
// than PQ train + add.
//
// Usage (repository root): build/bench/index/tqsearch_bench_build [--n 20000] [--dims 100,128,768,1536]
//     [--bits 1,2,4] [--no-pq] [--pq-limit-s 400]
// PQ runs once per configuration (seconds to minutes); TurboQuant is the best of --reps runs (default 5).
// --pq-limit-s skips PQ configurations whose expected time (scaled from the previous one) exceeds the limit.
// Data: Gaussian mixture, 256 anisotropic clusters with a common offset (seeded), like the quant benchmarks.

#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <faiss/IndexPQ.h>

#include "index/index_factory.h"
#include "quant/simd_level.h"

namespace {

using idx_t = faiss::Index::idx_t;

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::vector<float> mixture(size_t n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int clusters = 256;
  std::vector<float> offset(static_cast<size_t>(d)), centers(size_t(clusters) * d), scales(size_t(clusters) * d);
  for (float& v : offset) v = g(rng);
  for (float& v : centers) v = 1.5f * g(rng);
  for (float& v : scales) v = 0.1f + std::fabs(g(rng));
  std::vector<float> x(n * size_t(d));
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng() % clusters;
    for (int j = 0; j < d; ++j)
      x[i * d + j] = offset[size_t(j)] + centers[c * d + j] + scales[c * d + j] * g(rng);
  }
  return x;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string t;
  while (std::getline(ss, t, ',')) out.push_back(std::stoi(t));
  return out;
}

/// CPU seconds of train + add on a fresh index from the factory (best of reps).
double tq_build_seconds(int d, const std::string& desc, const std::vector<float>& x, size_t n, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto index = tqsearch::index_factory(d, desc, faiss::METRIC_L2);
    const double t0 = thread_cpu_seconds();
    if (!index->is_trained) index->train(idx_t(n), x.data());
    index->add(idx_t(n), x.data());
    best = std::min(best, thread_cpu_seconds() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 20000;
  std::vector<int> dims = {100, 128, 768, 1536}, bits = {1, 2, 4};
  bool pq = true;
  int reps = 5;
  double pq_limit = 400;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--n") n = std::stoul(next());
    else if (a == "--dims") dims = parse_list(next());
    else if (a == "--bits") bits = parse_list(next());
    else if (a == "--no-pq") pq = false;
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--pq-limit-s") pq_limit = std::stod(next());
    else {
      std::fprintf(stderr,
                   "usage: %s [--n N] [--dims 100,128] [--bits 1,2,4] [--no-pq] [--reps R] [--pq-limit-s S]\n",
                   argv[0]);
      return a == "--help" ? 0 : 2;
    }
  }
  omp_set_num_threads(1);
  std::printf("## tqsearch_bench_build: %zu vectors, 1 thread, CPU seconds; SIMD level %s\n\n", n,
              std::string(tqsearch::simd_level_name(tqsearch::simd_level())).c_str());
  std::printf("| d | bits | TQ ms | TQ,Center ms | FAISS PQ | PQ train+add ms | PQ / TQ | PQ / TQ,Center |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  double last_pq_per_m = 0;  // seconds per subquantizer of the previous PQ run (for --pq-limit-s)
  for (int d : dims) {
    const std::vector<float> x = mixture(n, d, 1000 + uint64_t(d));
    for (int b : bits) {
      const std::string tq = "TQ" + std::to_string(b);
      const double t_tq = tq_build_seconds(d, tq, x, n, reps);
      const double t_tqc = tq_build_seconds(d, tq + ",Center", x, n, reps);
      // FAISS IndexPQ needs M | d: the divisor of d closest to d·b/8 (d = 100, 1 bit: PQ10x8 for 12.5 bytes).
      int m = 1;
      for (int c = 1; c <= d; ++c)
        if (d % c == 0 && std::fabs(c - d * b / 8.0) < std::fabs(m - d * b / 8.0)) m = c;
      double t_pq = -1;
      if (pq && (last_pq_per_m == 0 || last_pq_per_m * m <= pq_limit)) {
        faiss::IndexPQ index(d, size_t(m), 8, faiss::METRIC_L2);
        index.verbose = false;
        const double t0 = thread_cpu_seconds();
        index.train(idx_t(n), x.data());
        index.add(idx_t(n), x.data());
        t_pq = thread_cpu_seconds() - t0;
        last_pq_per_m = std::max(last_pq_per_m, t_pq / m);
      }
      if (t_pq > 0) {
        std::printf("| %d | %d | %.1f | %.1f | PQ%dx8 | %.0f | %.0f× | %.0f× |\n", d, b, 1e3 * t_tq, 1e3 * t_tqc, m,
                    1e3 * t_pq, t_pq / t_tq, t_pq / t_tqc);
      } else {
        std::printf("| %d | %d | %.1f | %.1f | PQ%dx8 | (not run) | | |\n", d, b, 1e3 * t_tq, 1e3 * t_tqc, m);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
