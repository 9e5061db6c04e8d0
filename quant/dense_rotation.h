// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Haar-random dense orthogonal rotation: QR (modified Gram–Schmidt, in double) of a d×d standard Gaussian
/// matrix with the sign of R's diagonal folded in, exactly as TurboQuant's paper draws Π. O(d²) per vector and
/// O(d³) to build: the reference that HadamardRotation is tested against, not the fast path.

#include <vector>

#include "quant/rotation.h"

namespace tqsearch {

class DenseRotation final : public Rotation {
 public:
  DenseRotation(int d, uint64_t seed);

  RotationParams params() const override;
  void forward(size_t n, const float* x, float* y) const override;
  void inverse(size_t n, const float* y, float* x) const override;

  /// The matrix Π, (d, d) row-major: y_i = Σ_j Π[i][j]·x_j.
  const std::vector<float>& matrix() const { return q_; }

 private:
  uint64_t seed_;
  std::vector<float> q_;
};

}  // namespace tqsearch
