// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu_test_util.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "quant/internal/random.h"

namespace tqsearch::gpu::testing {

std::vector<float> clustered(size_t n, int d, int nclusters, float sigma, uint64_t seed) {
  internal::Rng rng(seed);
  std::vector<float> centers(size_t(nclusters) * d);
  for (auto& c : centers) c = static_cast<float>(rng.normal());
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng.next_u64() % nclusters;
    for (int j = 0; j < d; ++j) x[i * d + j] = centers[c * d + j] + sigma * static_cast<float>(rng.normal());
  }
  return x;
}

std::vector<float> read_fvecs(const std::string& path, size_t max_rows, int* d) {
  std::vector<float> out;
  std::ifstream f(path, std::ios::binary);
  if (!f) return out;
  int32_t dim = 0;
  size_t rows = 0;
  while (rows < max_rows && f.read(reinterpret_cast<char*>(&dim), 4)) {
    if (dim <= 0 || dim > 65536) return {};
    if (rows == 0) *d = dim;
    if (dim != *d) return {};
    out.resize((rows + 1) * size_t(dim));
    if (!f.read(reinterpret_cast<char*>(out.data() + rows * dim), sizeof(float) * dim)) {
      out.resize(rows * size_t(dim));
      break;
    }
    ++rows;
  }
  return out;
}

std::string find_data(const std::string& rel) {
  for (const char* dir : {TQSEARCH_GPU_DATA_DIR, TQSEARCH_DATA_DIR}) {
    const std::string p = std::string(dir) + "/" + rel;
    if (std::ifstream(p).good()) return p;
  }
  return "";
}

void cpu_search(const TurboQuantizer& tq, Metric metric, const std::vector<uint8_t>& codes, size_t nq,
                const float* queries, int k, const FlatSearchParams& params, std::vector<float>* D,
                std::vector<int64_t>* I) {
  FlatScanner scanner(tq, metric);
  const size_t n = codes.size() / tq.code_size();
  scanner.add(n, codes.data());
  D->assign(nq * k, 0);
  I->assign(nq * k, 0);
  scanner.search(nq, queries, codes.data(), k, params, D->data(), I->data());
}

}  // namespace tqsearch::gpu::testing
