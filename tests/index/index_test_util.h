// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Helpers of the index/ tests: TEXMEX file reading, a clustered generator, brute force and recall.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <faiss/IndexFlat.h>

#include "index/internal/normalize_row.h"

#ifndef TQSEARCH_DATA_DIR
#define TQSEARCH_DATA_DIR "../shared/data"
#endif

namespace tqsearch::testing {

inline std::string data_path(const std::string& rel) { return std::string(TQSEARCH_DATA_DIR) + "/" + rel; }

inline bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

/// Reads up to max_rows vectors of an .fvecs file (little-endian int32 d, then d float32). Empty on failure.
inline std::vector<float> read_fvecs(const std::string& path, int* d, size_t max_rows = SIZE_MAX) {
  std::vector<float> out;
  std::ifstream f(path, std::ios::binary);
  *d = 0;
  int32_t dim = 0;
  size_t rows = 0;
  while (rows < max_rows && f.read(reinterpret_cast<char*>(&dim), 4)) {
    if (*d == 0) *d = dim;
    if (dim != *d || dim <= 0) return {};
    const size_t o = out.size();
    out.resize(o + size_t(dim));
    if (!f.read(reinterpret_cast<char*>(out.data() + o), std::streamsize(dim) * 4)) return {};
    ++rows;
  }
  return out;
}

inline std::vector<int32_t> read_ivecs(const std::string& path, int* k, size_t max_rows = SIZE_MAX) {
  int d = 0;
  std::vector<float> raw = read_fvecs(path, &d, max_rows);  // same framing, reinterpret the payload
  *k = d;
  std::vector<int32_t> out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size() * 4);
  return out;
}

struct Dataset {
  int d = 0;
  size_t nb = 0, nq = 0;
  std::vector<float> base, queries;
};

/// First nb base rows and nq query rows of a shared dataset directory; nb = nq = 0 when it is absent.
inline Dataset load_dataset(const std::string& dir, size_t nb, size_t nq) {
  Dataset ds;
  int db = 0, dq = 0;
  ds.base = read_fvecs(data_path(dir + "/base.fvecs"), &db, nb);
  ds.queries = read_fvecs(data_path(dir + "/query.fvecs"), &dq, nq);
  if (db == 0 || db != dq) return {};
  ds.d = db;
  ds.nb = ds.base.size() / size_t(db);
  ds.nq = ds.queries.size() / size_t(dq);
  return ds;
}

/// Rows divided by their norms exactly as cosine indexes normalize (internal::normalize_row: the same floats); zero
/// rows stay zero. @param x (n, d) float32
inline std::vector<float> normalized(const std::vector<float>& x, int d) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size() / size_t(d); ++i) {
    const float* row = x.data() + i * size_t(d);
    double s = 0;
    for (int j = 0; j < d; ++j) s += double(row[j]) * row[j];
    internal::normalize_row(row, size_t(d), s, out.data() + i * size_t(d));
  }
  return out;
}

/// Gaussian mixture with anisotropic clusters, not centered at the origin:
///   x = mean + c_k + M·(s_k ⊙ z),  z ~ N(0, I),
/// c_k ~ N(0, I) cluster centers, s_k per-cluster axis scales decaying as exp(−j/τ) in a per-cluster random order
/// (a few strong directions per cluster), M a shared random Gaussian/√d mixing matrix (so the anisotropy is not
/// axis-aligned), `mean` one common offset (data far from zero-mean, like SIFT). Queries come from the same law.
inline Dataset make_clustered(int d, size_t nb, size_t nq, int clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::vector<float> mean(d), centers(size_t(clusters) * d), scales(size_t(clusters) * d), mix(size_t(d) * d);
  for (float& v : mean) v = 2.0f * g(rng);
  for (float& v : centers) v = 1.5f * g(rng);
  const float tau = std::max(2.0f, d / 8.0f);
  for (int c = 0; c < clusters; ++c) {
    std::vector<int> order(d);
    for (int j = 0; j < d; ++j) order[j] = j;
    std::shuffle(order.begin(), order.end(), rng);
    for (int j = 0; j < d; ++j) scales[size_t(c) * d + order[j]] = 0.9f * std::exp(-float(j) / tau) + 0.05f;
  }
  const float inv = 1.0f / std::sqrt(float(d));
  for (float& v : mix) v = g(rng) * inv;
  auto gen = [&](size_t n) {
    std::vector<float> out(n * d), z(d);
    for (size_t i = 0; i < n; ++i) {
      const int c = pick(rng);
      for (int j = 0; j < d; ++j) z[j] = g(rng) * scales[size_t(c) * d + j];
      float* x = out.data() + i * d;
      for (int r = 0; r < d; ++r) {
        float s = mean[r] + centers[size_t(c) * d + r];
        const float* m = mix.data() + size_t(r) * d;
        for (int j = 0; j < d; ++j) s += m[j] * z[j];
        x[r] = s;
      }
    }
    return out;
  };
  Dataset ds;
  ds.d = d;
  ds.nb = nb;
  ds.nq = nq;
  ds.base = gen(nb);
  ds.queries = gen(nq);
  return ds;
}

/// Exact top-k with FAISS's IndexFlat (IP or L2). Returns (nq, k) ids.
inline std::vector<faiss::Index::idx_t> brute_force(const Dataset& ds, int k, faiss::MetricType metric) {
  faiss::IndexFlat flat(ds.d, metric);
  flat.add(faiss::Index::idx_t(ds.nb), ds.base.data());
  std::vector<float> D(ds.nq * size_t(k));
  std::vector<faiss::Index::idx_t> I(ds.nq * size_t(k));
  flat.search(faiss::Index::idx_t(ds.nq), ds.queries.data(), k, D.data(), I.data());
  return I;
}

/// Fraction of queries whose true nearest neighbor (gt[q·gt_k]) is among the first r results.
inline double recall_1_at_r(const std::vector<faiss::Index::idx_t>& gt, int gt_k,
                            const std::vector<faiss::Index::idx_t>& res, int res_k, int r, size_t nq) {
  size_t hit = 0;
  for (size_t q = 0; q < nq; ++q) {
    for (int j = 0; j < r && j < res_k; ++j) {
      if (res[q * res_k + j] == gt[q * gt_k]) {
        ++hit;
        break;
      }
    }
  }
  return double(hit) / double(nq);
}

/// k-recall@k: mean |top-k ∩ true top-k| / k.
inline double recall_k_at_k(const std::vector<faiss::Index::idx_t>& gt, int gt_k,
                            const std::vector<faiss::Index::idx_t>& res, int res_k, int k, size_t nq) {
  size_t hit = 0;
  for (size_t q = 0; q < nq; ++q) {
    for (int j = 0; j < k; ++j) {
      const auto id = res[q * res_k + j];
      for (int t = 0; t < k; ++t) {
        if (gt[q * gt_k + t] == id) {
          ++hit;
          break;
        }
      }
    }
  }
  return double(hit) / double(nq * size_t(k));
}

}  // namespace tqsearch::testing
