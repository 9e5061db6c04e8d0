// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/hadamard_rotation.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "quant/error.h"
#include "quant/internal/fwht.h"
#include "quant/internal/random.h"

namespace tqsearch {

HadamardRotation::HadamardRotation(int d, uint64_t seed, int rounds)
    : Rotation(d), seed_(seed), rounds_(rounds == 0 ? kDefaultRounds : rounds) {
  TQ_CHECK(d >= 1, "HadamardRotation: dimension d must be >= 1, got " << d);
  TQ_CHECK(rounds_ >= 1 && rounds_ <= 64, "HadamardRotation: rounds must be in 1..64 (0 = default), got " << rounds);
  p_ = 1;
  while (2 * p_ <= d) p_ *= 2;
  internal::Rng rng(seed ^ 0x48414441u);  // "HADA"
  signs_.resize(size_t(rounds_) * 2 * p_);
  for (auto& s : signs_) s = rng.sign();
  const float inv_sqrt_p = static_cast<float>(1.0 / std::sqrt(double(p_)));
  scaled_signs_.resize(signs_.size());
  for (size_t i = 0; i < signs_.size(); ++i) scaled_signs_[i] = signs_[i] * inv_sqrt_p;
}

RotationParams HadamardRotation::params() const { return {RotationKind::kHadamard, seed_, rounds_}; }

void HadamardRotation::forward_one(float* v, SimdLevel level) const {
  for (int r = 0; r < rounds_; ++r) {
    const float* s = scaled_signs_.data() + size_t(r) * 2 * p_;
    internal::fwht_scaled(level, v, s, p_);
    if (p_ < d_) internal::fwht_scaled(level, v + (d_ - p_), s + p_, p_);
  }
}

void HadamardRotation::forward_rows_inplace(size_t m, float* v) const {
  const SimdLevel level = simd_level();
  for (int r = 0; r < rounds_; ++r) {
    const float* s = scaled_signs_.data() + size_t(r) * 2 * p_;
    for (size_t i = 0; i < m; ++i) internal::fwht_scaled(level, v + i * d_, s, p_);
    if (p_ < d_) {
      for (size_t i = 0; i < m; ++i) internal::fwht_scaled(level, v + i * d_ + (d_ - p_), s + p_, p_);
    }
  }
}

void HadamardRotation::inverse_one(float* v, SimdLevel level) const {
  for (int r = rounds_ - 1; r >= 0; --r) {
    const float* s = scaled_signs_.data() + size_t(r) * 2 * p_;
    if (p_ < d_) internal::ifwht_scaled(level, v + (d_ - p_), s + p_, p_);
    internal::ifwht_scaled(level, v, s, p_);
  }
}

void HadamardRotation::forward(size_t n, const float* x, float* y, SimdLevel level) const {
  TQ_CHECK(n == 0 || (x != nullptr && y != nullptr), "HadamardRotation::forward: null input or output");
  if (n == 1) {  // the per-vector path of encode and queries: no OpenMP region (its start costs ~1 µs)
    if (y != x) std::memcpy(y, x, sizeof(float) * d_);
    forward_one(y, level);
    return;
  }
#pragma omp parallel for if (n > 256) schedule(static)
  for (size_t i = 0; i < n; ++i) {
    float* v = y + i * d_;
    if (v != x + i * d_) std::memcpy(v, x + i * d_, sizeof(float) * d_);
    forward_one(v, level);
  }
}

void HadamardRotation::inverse(size_t n, const float* y, float* x, SimdLevel level) const {
  TQ_CHECK(n == 0 || (x != nullptr && y != nullptr), "HadamardRotation::inverse: null input or output");
  if (n == 1) {
    if (x != y) std::memcpy(x, y, sizeof(float) * d_);
    inverse_one(x, level);
    return;
  }
#pragma omp parallel for if (n > 256) schedule(static)
  for (size_t i = 0; i < n; ++i) {
    float* v = x + i * d_;
    if (v != y + i * d_) std::memcpy(v, y + i * d_, sizeof(float) * d_);
    inverse_one(v, level);
  }
}

void HadamardRotation::forward(size_t n, const float* x, float* y) const { forward(n, x, y, simd_level()); }
void HadamardRotation::inverse(size_t n, const float* y, float* x) const { inverse(n, y, x, simd_level()); }

}  // namespace tqsearch
