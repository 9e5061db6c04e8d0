// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Randomized Hadamard rotation for any d, without padding.
///
/// Let p be the largest power of two <= d. One round is
///     x[0:p] ← H_p·D₁·x[0:p];  and, when p < d,  x[d−p:d] ← H_p·D₂·x[d−p:d]
/// with D random ±1 diagonals of size p and H_p the normalized Walsh–Hadamard matrix (fast transform,
/// O(p log p)). Arithmetic (the contract the GPU kernels reproduce bit for bit): v_i ← v_i·(D_i/√p) in float,
/// then the butterfly levels h = 1, 2, 4, …, p/2 with (a, b) ← (a + b, a − b).
/// The two blocks overlap (p > d/2), so every coordinate is mixed with every other within two rounds
/// (Kac-walk style, as RaBitQ-Library's rotator). Each step is orthogonal, so the product is too. Several
/// rounds make the rotated coordinates of any fixed input, even a spike e₁, close to N(0, 1/d).

#include <vector>

#include "quant/rotation.h"

namespace tqsearch {

class HadamardRotation final : public Rotation {
 public:
  static constexpr int kDefaultRounds = 3;

  /// @param d       dimension, >= 1
  /// @param seed    RNG seed for the sign diagonals
  /// @param rounds  number of rounds (>= 1); 0 means kDefaultRounds
  HadamardRotation(int d, uint64_t seed, int rounds = 0);

  RotationParams params() const override;
  void forward(size_t n, const float* x, float* y) const override;
  void inverse(size_t n, const float* y, float* x) const override;

  /// Same transform with the kernel for an explicit SIMD level (tests, benchmarks). Bit-identical across levels.
  void forward(size_t n, const float* x, float* y, SimdLevel level) const;
  void inverse(size_t n, const float* y, float* x, SimdLevel level) const;

  /// In-place forward transform of m rows of d floats at v (row-major), with the FWHT blocks of the rows issued
  /// round by round across rows, so the CPU overlaps one row's dependent store → load chain between the
  /// overlapping blocks with the next row's work. Each row gets the same operations as forward(): bit-identical.
  void forward_rows_inplace(size_t m, float* v) const;

  int block_size() const { return p_; }
  int rounds() const { return rounds_; }
  /// The ±1 diagonals, (rounds, 2, p) row-major: round r applies signs[r][0] to x[0:p] before the first block's
  /// FWHT and signs[r][1] to x[d−p:d] before the last block's (unused when block_size() == d). For the GPU.
  const std::vector<float>& signs() const { return signs_; }

 private:
  void forward_one(float* v, SimdLevel level) const;
  void inverse_one(float* v, SimdLevel level) const;

  uint64_t seed_;
  int rounds_;
  int p_;                     // largest power of two <= d
  std::vector<float> signs_;         // (rounds, 2, p): ±1 diagonals
  std::vector<float> scaled_signs_;  // the same times 1/√p
};

}  // namespace tqsearch
