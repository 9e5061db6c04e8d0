// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Random orthogonal transforms Π used by TurboQuant (arXiv 2504.19874, Alg. 1 line 2). A rotation is fully
/// determined by (kind, d, seed, rounds): that tuple is what index files store, and the same tuple gives the
/// same matrix on every machine and thread count (our own portable RNG, no std:: distributions).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "quant/simd_level.h"

namespace tqsearch {

enum class RotationKind : uint32_t {
  kHadamard = 1,  ///< randomized Hadamard rounds, O(d log d), any d (HadamardRotation)
  kDense = 2,     ///< Haar-random dense orthogonal matrix, O(d²) per vector (DenseRotation, reference)
};

/// The parameters that reproduce a rotation.
struct RotationParams {
  RotationKind kind = RotationKind::kHadamard;
  uint64_t seed = 0x5eed;
  int rounds = 0;  ///< Hadamard rounds; 0 = default (HadamardRotation::kDefaultRounds)
};

/// y = Π·x for an orthogonal d×d matrix Π.
class Rotation {
 public:
  virtual ~Rotation() = default;
  int d() const { return d_; }
  virtual RotationParams params() const = 0;

  /// @param n  number of rows
  /// @param x  (n, d) row-major float32 input
  /// @param y  (n, d) row-major float32 output; may equal x (in place)
  virtual void forward(size_t n, const float* x, float* y) const = 0;
  /// x = Πᵀ·y, the exact inverse of forward (up to float rounding). Same shapes; may be in place.
  virtual void inverse(size_t n, const float* y, float* x) const = 0;

 protected:
  explicit Rotation(int d) : d_(d) {}
  int d_;
};

/// Builds the rotation described by `params` for dimension d (d >= 1).
std::unique_ptr<Rotation> make_rotation(int d, const RotationParams& params);

}  // namespace tqsearch
