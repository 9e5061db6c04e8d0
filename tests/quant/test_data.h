// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
// Test-only helpers: shared datasets (../shared/data, skipped with a reason when absent) and generated data.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "quant/internal/random.h"

namespace tqsearch::testing {

inline std::string data_path(const std::string& rel) { return std::string(TQSEARCH_DATA_DIR) + "/" + rel; }

/// Reads up to max_rows rows of an .fvecs file; empty when the file is missing.
inline std::vector<float> read_fvecs(const std::string& path, int* d, size_t max_rows = SIZE_MAX) {
  std::vector<float> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  int dim = 0;
  size_t rows = 0;
  while (rows < max_rows && std::fread(&dim, 4, 1, f) == 1) {
    const size_t off = out.size();
    out.resize(off + dim);
    if (std::fread(out.data() + off, 4, dim, f) != size_t(dim)) {
      out.resize(off);
      break;
    }
    ++rows;
  }
  std::fclose(f);
  *d = dim;
  return out;
}

inline std::vector<float> gaussian(size_t n, int d, uint64_t seed) {
  internal::Rng rng(seed);
  std::vector<float> x(n * d);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  return x;
}

/// Gaussian mixture with anisotropic clusters (per-cluster random axis scales), offset from the origin:
/// closer to real embeddings than isotropic noise.
inline std::vector<float> clustered(size_t n, int d, int clusters, uint64_t seed) {
  internal::Rng rng(seed);
  std::vector<float> centers(size_t(clusters) * d), scales(size_t(clusters) * d);
  for (auto& c : centers) c = static_cast<float>(rng.normal());
  for (auto& s : scales) s = static_cast<float>(0.05 + 0.5 * rng.uniform() * rng.uniform());
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng.next_u64() % clusters;
    for (int j = 0; j < d; ++j) x[i * d + j] = centers[c * d + j] + scales[c * d + j] * float(rng.normal());
  }
  return x;
}

inline void normalize_rows(std::vector<float>& x, int d) {
  for (size_t i = 0; i < x.size() / d; ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += double(x[i * d + j]) * x[i * d + j];
    const float inv = s > 0 ? float(1 / std::sqrt(s)) : 0.f;
    for (int j = 0; j < d; ++j) x[i * d + j] *= inv;
  }
}

}  // namespace tqsearch::testing
