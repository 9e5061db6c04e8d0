// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Lloyd–Max scalar codebooks for one coordinate of a uniformly random unit vector in R^d.
///
/// That coordinate t has density f_d(t) ∝ (1 − t²)^((d−3)/2) on [−1, 1] (TurboQuant, Lemma 1); for large d it is
/// close to N(0, 1/d). The codebook is the fixed point of Lloyd's iteration on f_d (centroid = conditional mean
/// of its cell, boundaries at midpoints), computed by numerical integration — never hard-coded. d = 1 (where the
/// coordinate is ±1) uses the d = 2 density, whose codebook also contains values near ±1.

#include <cstdint>
#include <vector>

namespace tqsearch {

class LloydMaxCodebook {
 public:
  /// @param d     dimension of the unit vectors, >= 1
  /// @param bits  1..8: 2^bits centroids
  LloydMaxCodebook(int d, int bits);

  /// Process-wide cached instance for (d, bits); thread-safe, computed once.
  static const LloydMaxCodebook& get(int d, int bits);

  int d() const { return d_; }
  int bits() const { return bits_; }
  int size() const { return static_cast<int>(centroids_.size()); }
  /// 2^bits centroids in increasing order, in coordinate units (t ∈ [−1, 1]); multiply by √d for N(0,1) units.
  const std::vector<float>& centroids() const { return centroids_; }
  /// 2^bits − 1 cell boundaries (midpoints between consecutive centroids), increasing.
  const std::vector<float>& boundaries() const { return boundaries_; }
  /// Expected squared error E[(t − c(t))²] of one coordinate under f_d; times d it is the expected
  /// ‖y − ŷ‖² of a unit vector (TurboQuant Thm 1: ≈ 0.363, 0.117, 0.0345, 0.0095 for bits = 1..4).
  double coordinate_mse() const { return mse_; }

  /// Index of the nearest centroid of t (ties to the lower cell).
  int quantize(float t) const;

  /// Probability of each cell under f_d (2^bits values summing to 1).
  const std::vector<double>& cell_probabilities() const { return mass_; }
  /// Centroids of the coarser codebook read off the top `prefix_bits` bits of an index: entry p is the
  /// conditional mean of t over the cells whose index has p as its top bits (cells p·2^s … (p+1)·2^s − 1,
  /// s = bits − prefix_bits), so `c_prefix[idx >> s]` is the best estimate of t given those bits alone.
  /// Used by prefix scans (FlatScanner). @param prefix_bits 1..bits (bits gives centroids() back)
  std::vector<float> prefix_centroids(int prefix_bits) const;

 private:
  int d_;
  int bits_;
  std::vector<float> centroids_;
  std::vector<float> boundaries_;
  std::vector<double> mass_;   // cell probabilities
  std::vector<double> first_;  // ∫ t f_d over each cell (for conditional means of merged cells)
  double mse_ = 0;
};

}  // namespace tqsearch
