// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The summation order of ⟨Πq, ŷ⟩ (TurboQuantizer::dot_rotated): products added into 8 lanes (lane j mod 8, in
/// increasing j), then this fixed tree. An 8-wide SIMD accumulator (AVX2) or 8 GPU lanes produce the same lanes, so
/// every implementation returns the same float — and the rescoring of a scan needs one pass, not a fast one plus an
/// exact one.

namespace tqsearch::internal {

/// ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)) — the pairing of an AVX2 horizontal sum (high half onto low, then pairs).
inline float reduce_lanes(const float* l) {
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

}  // namespace tqsearch::internal
