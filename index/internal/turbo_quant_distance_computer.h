// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// faiss::FlatCodesDistanceComputer over IndexTurboQuant's row codes: query-to-code distances with one estimator
/// (TurboQuantizer::prepare_query + inner_product), symmetric distances between two mse reconstructions.
///
/// Distances are what IndexTurboQuant::search reports: the IP estimate (IP / cosine) or the squared-L2 estimate
/// ‖q‖² + ‖x‖² − 2·⟨q, x⟩_est (L2). FAISS's IndexHNSW negates IP distances itself. Centered indexes: L2 scores
/// q − μ against the codes of x − μ; cosine does the same with the normalized q̂ and reports
/// 1 − L2/2 (IndexTurboQuant::cosine_from_centered_l2; symmetric_dis likewise from the two reconstructions); IP adds
/// ⟨q, μ⟩ to the estimate of ⟨q, x − μ⟩. A zero query under cosine scores 0 against every code.
///
/// Used inside OpenMP regions by FAISS (HNSW build and search), so nothing here throws after construction: a
/// query with NaN/Inf gives the worst distance (−inf for IP, +inf for L2) to every code.

#include <vector>

#include <faiss/impl/DistanceComputer.h>

#include "index/index_turbo_quant.h"

namespace tqsearch::internal {

class TurboQuantDistanceComputer final : public faiss::FlatCodesDistanceComputer {
 public:
  /// @param index      the index whose codes are read (must outlive this object; codes must not be reallocated)
  /// @param estimator  supported by index.quantizer() (checked, throws tqsearch::Error)
  TurboQuantDistanceComputer(const IndexTurboQuant& index, Estimator estimator);

  /// @param x  (d) float32 query; normalized first for cosine
  void set_query(const float* x) override;
  float distance_to_code(const uint8_t* code) override;
  /// Distance between the mse reconstructions of rows i and j, computed in the rotated domain (Π is orthogonal:
  /// ⟨Πᵀa, Πᵀb⟩ = ⟨a, b⟩), so no inverse rotation and no allocation per call.
  float symmetric_dis(faiss::Index::idx_t i, faiss::Index::idx_t j) override;

 private:
  const IndexTurboQuant& index_;
  const TurboQuantizer& tq_;
  Estimator estimator_;
  bool l2_;
  bool valid_query_ = false;
  bool zero_query_ = false;       // cosine: the query is zero, every distance is 0
  bool cosine_l2_ = false;        // cosine with centering: squared-L2 estimate on centered data, converted
  float query_norm2_ = 0;         // ‖q‖² (L2; of q − μ when centered, cosine included)
  float offset_ = 0;              // ⟨q, μ⟩ added to IP distances when centered
  PreparedQuery query_;
  std::vector<float> buf_;         // (2d) scratch
  std::vector<uint8_t> idx_;       // (d) unpacked indices
  const float* centroids_high_;    // codebook of coordinates [0, num_high)
  const float* centroids_low_;     // codebook of coordinates [num_high, d)
  int num_high_;
  int uniform_bits_ = 0;           // b when every coordinate has b bits and b divides 8 (1, 2, 4, 8), else 0
  std::vector<float> byte_lut_;    // uniform_bits_ > 0: (mse_bytes, 256) partial dots ⟨Πq, ŷ⟩ of each code byte

  /// Per-coordinate indices of one code into idx_ (fast path for uniform_bits_).
  void unpack(const uint8_t* code);
  /// ŷ (unit-norm scale, rotated domain) of one code into out (d).
  void decode_rotated(const uint8_t* code, float* out);
  /// ⟨Πq, ŷ⟩ of the current query and one code.
  float dot_rotated(const uint8_t* code) const;
};

}  // namespace tqsearch::internal
