// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Blocked scan layout of TurboQuant codes (FAISS fast-scan style) and the per-query lookup tables.
///
/// Nibble path (all rates with at most 4 bits per coordinate): coordinates are grouped so that one 4-bit
/// nibble holds g coordinates of w bits (g·w ≤ 4: 4 coordinates at 1 bit, 2 at 2 bits, 1 at 3 and 4 bits).
/// Vectors are stored in blocks of 32; a block is G2 (= G rounded up to even) rows of 16 bytes, row j
/// holding group j of vectors 0..15 in the low nibbles and of vectors 16..31 in the high nibbles. Padding
/// groups and padding vectors are zero. A query has one 16-entry LUT per group, quantized to uint8 with one
/// common scale and a per-group bias, so a score is scale·Σ_j LUT_j[nibble_j] + bias.
///
/// 8-bit path (8 bits per coordinate): blocks of 32 vectors, each row-major int8 values T[idx] ≈
/// 127·c[idx]/max|c| with d padded to a multiple of 32; the query is quantized to int8, scores are int32 dot
/// products.
///
/// Prefix scan (`scan_bits` = s >= 1): every coordinate keeps only the top min(bits, s) bits of its index, and the
/// LUTs use the conditional means of the merged cells (LloydMaxCodebook::prefix_centroids). A 4-bit code scanned at
/// s = 2 packs two coordinates per nibble: half the lookups of the full code, for a coarser score that the
/// caller refines with the full codes (FlatScanner). This is the multi-resolution idea of RaBitQ's fast-scan +
/// extra-bits rerank, applied to the Lloyd–Max indices: their top bits are a near-optimal coarser quantizer.
///
/// Kernels in quant/internal/scan_{scalar,avx2,avx512}.cc; all levels are bit-identical.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/simd_level.h"
#include "quant/turbo_quantizer.h"

namespace tqsearch {

/// One nibble group: `count` consecutive coordinates from `first`, `bits` bits each (the top `bits` bits of
/// indices that have `bits + shift` bits).
struct ScanGroup {
  int first = 0;
  int count = 0;
  int bits = 0;
  int shift = 0;
};

struct QueryLut;

class FastScanCodes {
 public:
  static constexpr int kBlock = 32;

  /// @param scan_bits  0: scan the full codes; 1..4: prefix scan with at most that many bits per coordinate
  explicit FastScanCodes(const TurboQuantizer& tq, int scan_bits = 0);

  bool int8_path() const { return int8_path_; }
  int scan_bits() const { return scan_bits_; }
  /// True when some coordinate is scanned with fewer bits than its code has.
  bool is_prefix() const { return prefix_; }
  /// Centroids (unit-norm coordinate units) a group's nibble values are read with.
  const std::vector<float>& group_centroids(const ScanGroup& g) const;
  /// Products of one code's full mse reconstruction ŷ (unit scale, rotated coordinates) and the vector ŷ_s the scan
  /// scores (prefix centroids): ‖ŷ‖², ⟨ŷ, ŷ_s⟩, ‖ŷ_s‖². Nibble path only.
  struct ReconstructionProducts {
    double full_sq = 0, dot = 0, scan_sq = 0;
  };
  ReconstructionProducts reconstruction_products(const uint8_t* row_code) const;
  int num_groups() const { return static_cast<int>(groups_.size()); }
  const std::vector<ScanGroup>& groups() const { return groups_; }
  /// Bytes of one block of 32 vectors.
  size_t block_bytes() const { return block_bytes_; }
  size_t size() const { return n_; }
  size_t num_blocks() const { return (n_ + kBlock - 1) / kBlock; }
  const uint8_t* data() const { return data_.data(); }

  /// Append n row codes (n, tq.code_size()). Only the mse section is read; padding bits past the d indices are
  /// ignored.
  void add(size_t n, const uint8_t* row_codes);
  void clear();
  /// Builds the lookup table of one rotated query. @param rotated_query (d) floats, Π·q
  /// @param lut_max  largest uint8 LUT entry (nibble path): 255 (finest), 127 or 63. With 63 the fused kernels add
  ///                 four lookups per vector in 8 bits before widening (a quarter of the widening work; the AVX2
  ///                 kernel 1.13× faster) for a 4× coarser step max_range/63 — right when a bound and a float
  ///                 rescoring follow (FlatSearchParams::lut_max).
  void build_lut(const float* rotated_query, QueryLut* out, int lut_max = 255) const;
  /// Groups rounded up to even (the nibble kernels take two groups per 256-bit register).
  int num_groups_padded() const { return g2_; }


  /// Bytes held (for memory reporting).
  size_t memory_bytes() const { return data_.capacity(); }

  /// Int8 value table of the 8-bit path (256 entries) and its scale: c[idx] ≈ table[idx]·scale.
  const std::vector<int8_t>& int8_table() const { return int8_table_; }
  float int8_scale() const { return int8_scale_; }
  int padded_d() const { return padded_d_; }  ///< 8-bit path: d rounded up to 32

 private:
  /// add() for 1, 2 and 4 bits scanned in full: blocks transposed straight from the packed row codes.
  void add_packed_nibbles(size_t n, const uint8_t* row_codes);
  /// add() for every other layout: each row code unpacked to indices, then regrouped.
  void add_unpacked(size_t n, const uint8_t* row_codes);

  const TurboQuantizer& tq_;
  int scan_bits_ = 0;
  bool prefix_ = false;
  bool int8_path_ = false;
  std::vector<float> centroids_[2];  // [0]: high-bit region, [1]: low-bit region (prefix centroids when shifted)
  std::vector<ScanGroup> groups_;
  int g2_ = 0;
  int uniform_per_ = 0;  // 1: every group is one coordinate (3 and 4 bits, integer rate)
  bool nibbles_are_bytes_ = false;  // 1, 2 or 4 bits, full scan: the groups' nibbles are the packed code's nibbles
  int padded_d_ = 0;
  size_t block_bytes_ = 0;
  size_t n_ = 0;
  std::vector<uint8_t> data_;
  std::vector<int8_t> int8_table_;
  float int8_scale_ = 0;
};

/// Quantized lookup tables of one query for the nibble path, or its int8 form for the 8-bit path.
struct QueryLut {
  std::vector<uint8_t> lut;  ///< nibble path: (G2, 16); 8-bit path: unused
  std::vector<int8_t> q8;    ///< 8-bit path: (padded_d) int8 query
  float scale = 0;           ///< ⟨Πq, ŷ⟩ ≈ scale·acc + bias
  float bias = 0;
  int lut_max = 255;         ///< largest entry the LUT was quantized to
};


namespace internal {

/// Accumulator kernel: for each query i < nq and vector v in blocks [0, nblocks):
///   nibble path: acc[i][v] = Σ_j luts[i][j][nibble_j(v)]   (uint16 partial sums, widened every 256 groups)
///   8-bit path:  acc[i][v] = Σ_t q8[i][t]·code8[v][t]
/// @param blocks  nblocks · codes.block_bytes() bytes, the block layout above
/// @param luts    per query: pointer to (G2,16) uint8 (nibble) or (padded_d) int8 (8-bit)
/// @param acc     (nq, nblocks·32) int32 output, row stride `acc_stride`
void scan_blocks(SimdLevel level, const FastScanCodes& codes, const uint8_t* blocks, size_t nblocks,
                 const void* const* luts, int nq, int32_t* acc, size_t acc_stride);

/// Per-ISA entry points of scan_blocks (scan_scalar.cc, scan_avx2.cc, scan_avx512.cc). `g2` = groups rounded to
/// even (nibble path); `padded_d` (8-bit path).
void scan_nibbles_scalar(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int nq,
                         int32_t* acc, size_t acc_stride);
void scan_nibbles_avx2(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int nq,
                       int32_t* acc, size_t acc_stride);
void scan_nibbles_avx512(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int nq,
                         int32_t* acc, size_t acc_stride);
void scan_int8_scalar(const uint8_t* blocks, size_t nblocks, int padded_d, const int8_t* const* q8, int nq,
                      int32_t* acc, size_t acc_stride);
void scan_int8_avx2(const uint8_t* blocks, size_t nblocks, int padded_d, const int8_t* const* q8, int nq,
                    int32_t* acc, size_t acc_stride);

/// Receives, during a fused scan, each block×query that holds a candidate: `scores` are the 32 values compared
/// (score, or score + slack) of rows first_row … first_row+31 and bit v of `mask` is set where scores[v] was above
/// the query's threshold when the block was scored (padding rows never). The sink re-checks against its live top-k and raises threshold[q].
using CandidateSink = void (*)(void* ctx, int q, size_t first_row, const float* scores, uint32_t mask);

/// One fused scan call (nibble path): accumulate the LUT sums of each 32-vector block for each query, turn them
/// into scores mult[v]·(scale·acc + bias) + add[v] in registers, compare with the query's running threshold and
/// hand only blocks with a candidate to the sink — no accumulator or score arrays in memory.
struct FusedScan {
  const uint8_t* blocks = nullptr;       ///< nblocks · block_bytes bytes, the block layout above
  size_t nblocks = 0;
  int g2 = 0;                            ///< groups rounded up to even
  const uint8_t* const* luts = nullptr;  ///< per query: (g2, 16) uint8
  int nq = 0;
  const float* scale = nullptr;          ///< (nq) LUT scales
  const float* bias = nullptr;           ///< (nq) LUT biases
  const float* mult = nullptr;           ///< (nblocks·32) per-vector multipliers of these blocks
  const float* add = nullptr;            ///< (nblocks·32) per-vector addends, or null
  size_t first_row = 0;                  ///< row number of the first vector of blocks[0]
  size_t nvalid = 0;                     ///< rows of these blocks that exist (the rest is padding)
  /// Optional upper-bound slack: the value compared with the threshold is score + slack[v]·slack_scale[q]
  /// (prefix scans: a confidence bound on the full-code score). Null: the score itself.
  const float* slack = nullptr;          ///< (nblocks·32) per vector
  const float* slack_scale = nullptr;    ///< (nq) per query
  float* threshold = nullptr;            ///< (nq) in/out: candidates need value > threshold[q]
  int lut_max = 255;                     ///< largest entry of every query's LUT (QueryLut::lut_max)
  CandidateSink sink = nullptr;
  void* ctx = nullptr;
};
/// Same sink calls (order, scores, masks) on every level. AVX-512 machines run the AVX2 kernel.
void scan_fused(SimdLevel level, const FusedScan& s);
void scan_fused_scalar(const FusedScan& s);
void scan_fused_avx2(const FusedScan& s);

/// Σ_j qr[j]·c[idx_j] over a packed 4-bit row code (index j in the low nibble of byte j/2 for even j, the high
/// nibble for odd j), summed in 8 lanes (lane = j mod 8, products then sums, no fused multiply-add) reduced as
/// ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)): TurboQuantizer::dot_rotated's order, so for a uniform 4-bit code with
/// c = its codebook the same float as dot_rotated, on every level.
/// @param code  (ceil(d/2)) bytes  @param qr (d)  @param c (16) centroids
float dot_nibbles(SimdLevel level, const uint8_t* code, int d, const float* qr, const float* c);
float dot_nibbles_scalar(const uint8_t* code, int d, const float* qr, const float* c);
float dot_nibbles_avx2(const uint8_t* code, int d, const float* qr, const float* c);

/// scores[v] = mult[v]·(scale·acc[v] + bias) + add[v] (add may be null) for v < n. Same float operations on
/// every level (one product, one fma-free sum order), so scores are bit-identical across levels.
void accumulators_to_scores(SimdLevel level, const int32_t* acc, size_t n, const float* mult, const float* add,
                            float scale, float bias, float* scores);
void accumulators_to_scores_scalar(const int32_t* acc, size_t n, const float* mult, const float* add, float scale,
                                   float bias, float* scores);
void accumulators_to_scores_avx2(const int32_t* acc, size_t n, const float* mult, const float* add, float scale,
                                 float bias, float* scores);

/// Writes the positions v < n with scores[v] > threshold, in increasing order, to `out`; returns their count.
size_t positions_above(SimdLevel level, const float* scores, size_t n, float threshold, uint32_t* out);
size_t positions_above_scalar(const float* scores, size_t n, float threshold, uint32_t* out);
size_t positions_above_avx2(const float* scores, size_t n, float threshold, uint32_t* out);

}  // namespace internal
}  // namespace tqsearch
