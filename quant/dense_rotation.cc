// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/dense_rotation.h"

#include <cmath>
#include <vector>

#include "quant/error.h"
#include "quant/internal/random.h"

namespace tqsearch {

DenseRotation::DenseRotation(int d, uint64_t seed) : Rotation(d), seed_(seed) {
  TQ_CHECK(d >= 1 && d <= 8192, "DenseRotation: dimension d must be in 1..8192 (O(d³) build), got " << d);
  // Rows of G are i.i.d. Gaussian; Gram–Schmidt on the rows (twice, for stability) gives Q with Q = diag(±1)·R⁻ᵀG
  // — orthonormalizing a Gaussian matrix's rows is the Haar measure (the sign fix is implicit: each row is
  // normalized to positive projection on its own Gaussian draw).
  internal::Rng rng(seed ^ 0x44454e53u);  // "DENS"
  std::vector<double> g(size_t(d) * d);
  for (auto& v : g) v = rng.normal();
  for (int i = 0; i < d; ++i) {
    double* row = g.data() + size_t(i) * d;
    for (int pass = 0; pass < 2; ++pass) {
      for (int k = 0; k < i; ++k) {
        const double* prev = g.data() + size_t(k) * d;
        double dot = 0;
        for (int j = 0; j < d; ++j) dot += row[j] * prev[j];
        for (int j = 0; j < d; ++j) row[j] -= dot * prev[j];
      }
    }
    double nrm = 0;
    for (int j = 0; j < d; ++j) nrm += row[j] * row[j];
    nrm = std::sqrt(nrm);
    TQ_CHECK(nrm > 1e-12, "DenseRotation: degenerate Gaussian draw (seed " << seed << ")");
    for (int j = 0; j < d; ++j) row[j] /= nrm;
  }
  q_.resize(g.size());
  for (size_t i = 0; i < g.size(); ++i) q_[i] = static_cast<float>(g[i]);
}

RotationParams DenseRotation::params() const { return {RotationKind::kDense, seed_, 0}; }

void DenseRotation::forward(size_t n, const float* x, float* y) const {
  TQ_CHECK(n == 0 || (x != nullptr && y != nullptr), "DenseRotation::forward: null input or output");
#pragma omp parallel for if (n > 64) schedule(static)
  for (size_t r = 0; r < n; ++r) {
    std::vector<float> in(x + r * d_, x + (r + 1) * d_);
    float* out = y + r * d_;
    for (int i = 0; i < d_; ++i) {
      const float* row = q_.data() + size_t(i) * d_;
      double acc = 0;
      for (int j = 0; j < d_; ++j) acc += double(row[j]) * in[j];
      out[i] = static_cast<float>(acc);
    }
  }
}

void DenseRotation::inverse(size_t n, const float* y, float* x) const {
  TQ_CHECK(n == 0 || (x != nullptr && y != nullptr), "DenseRotation::inverse: null input or output");
#pragma omp parallel for if (n > 64) schedule(static)
  for (size_t r = 0; r < n; ++r) {
    std::vector<float> in(y + r * d_, y + (r + 1) * d_);
    std::vector<double> acc(d_, 0.0);
    for (int i = 0; i < d_; ++i) {
      const float* row = q_.data() + size_t(i) * d_;
      for (int j = 0; j < d_; ++j) acc[j] += double(row[j]) * in[i];
    }
    for (int j = 0; j < d_; ++j) x[r * d_ + j] = static_cast<float>(acc[j]);
  }
}

}  // namespace tqsearch
