// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// TurboQuant codes (arXiv 2504.19874): the data-oblivious quantizer every layer (index/, gpu/, tools/, python/)
/// uses. No training: a TurboQuantizer is fully determined by its options and d.
///
/// Encoding one vector x ∈ R^d (Alg. 1, plus the options below):
///   ‖x‖ kept;  y = Π·x/‖x‖ (random rotation);  idx_j = nearest Lloyd–Max centroid of y_j;  ŷ_j = c[idx_j].
///   renorm option: store ρ = ⟨y, ŷ⟩ (RaBitQ's estimator: ⟨q, x⟩ ≈ ‖x‖·⟨Πq, ŷ⟩ / ρ); fold_renorm stores only the
///   estimator's scale ‖x‖/ρ in the norm's slot.
///   QJL option (Alg. 2): r = y − ŷ, store γ = ‖r‖ and sign(S·r) for an m×d sketch S (m = d).
///
/// Row code layout, code_size() bytes, no alignment:
///   [mse indices: BitAllocation bit stream][‖x‖ (fold_renorm: ‖x‖/ρ): f32 or f16][ρ: f32, renorm without fold]
///   [γ: f32, QJL only][sign(S·r): ceil(d/8) bytes, QJL only]
/// A zero vector encodes with ‖x‖ = 0 and ρ = 1, γ = 0: every estimate for it is exactly 0.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/bit_allocation.h"
#include "quant/lloyd_max_codebook.h"
#include "quant/rotation.h"

namespace tqsearch {

class HadamardRotation;

/// How the residual sketch S of the QJL option is drawn.
enum class QjlKind : uint32_t {
  kStructured = 1,  ///< S = √d·Π' with Π' a second HadamardRotation: O(d log d), unbiased up to Hadamard≈Haar
  kGaussian = 2,    ///< S with i.i.d. N(0, 1) entries, as in the paper: O(d²), exactly unbiased
};

/// Which estimate of ⟨q, x⟩ a search or distance computation uses.
enum class Estimator : uint32_t {
  kMse = 0,     ///< ‖x‖·⟨Πq, ŷ⟩ (Alg. 1 decode; biased low by the factor ρ on average)
  kRenorm = 1,  ///< ‖x‖·⟨Πq, ŷ⟩ / ρ (needs store_renorm)
  kQjl = 2,     ///< ‖x‖·(⟨Πq, ŷ⟩ + γ·κ/m·⟨SΠq, sign(S·r)⟩), unbiased (Alg. 2; needs qjl)
};

/// "mse", "renorm", "qjl" ("unknown" for a value outside the enum).
const char* estimator_name(Estimator est);
/// What codes need for `est` (for error messages): "codes built with store_renorm", ….
const char* estimator_requirement(Estimator est);

struct TurboQuantizerOptions {
  double bits = 4;              ///< mse bits per coordinate: 1..8, or fractional (2.5, 3.5, …)
  RotationParams rotation;      ///< Π
  /// Store the norm slot (‖x‖, or ‖x‖/ρ with fold_renorm) as float16 (2 bytes) instead of float32. Rows whose
  /// stored value exceeds 65504 (the float16 maximum) are refused by encode.
  bool fp16_norm = false;
  bool store_renorm = false;    ///< store ρ = ⟨y, ŷ⟩ for the renormalized estimator
  /// Store the one scale the renormalized estimator needs, s = ‖x‖/ρ, in the norm's slot and no separate ρ
  /// (4 bytes less; with fp16_norm a row carries 2 bytes besides its indices). Needs store_renorm, excludes qjl.
  /// ‖x‖ itself is then not kept: factors() returns norm = s and renorm = 1 (so norm·⟨Πq, ŷ⟩/renorm is still the
  /// renormalized estimate), the mse estimator is unavailable, and decode() returns s·Πᵀŷ — the vector whose inner
  /// product with any q is the renormalized estimate. No use for L2 distances (they need ‖x‖²). Equal-bytes
  /// recall: bench/RESULTS.md. IndexTurboQuant files store it from format v4 on.
  bool fold_renorm = false;
  /// Choose each vector's indices to maximize the cosine ⟨y, ŷ⟩/‖ŷ‖ instead of nearest centroids of y — the error
  /// of the renormalized estimator, ‖x‖·tan θ·⟨Πq, e⟩, depends only on that angle (the idea of Extended RaBitQ).
  /// The maximizer is the nearest-centroid code of t·y for some scale t > 0, so one sweep over the scales where
  /// some coordinate changes cell, t ∈ [kScaleLo, kScaleHi] = [1/4, 4], finds the best code of that range
  /// (O(d·2^(b−1)) per vector, no global sort; no-op at 1 bit); it never lowers the cosine. Needs store_renorm; the
  /// mse estimator and decode() are then off by the chosen scale, so only the renormalized estimator is
  /// meaningful. Encode costs ~5–15× more. IndexTurboQuant files store it from format v2 on.
  bool optimize_cosine = false;
  bool qjl = false;             ///< store the 1-bit QJL sketch of the residual (+ d bits, + 4 bytes)
  QjlKind qjl_kind = QjlKind::kStructured;
  uint64_t qjl_seed = 0x9e3779b97f4a7c15ull;
};

/// Per-vector scalars stored beside the mse indices.
struct VectorFactors {
  float norm = 0;    ///< ‖x‖ (fold_renorm: ‖x‖/ρ)
  float renorm = 1;  ///< ρ = ⟨y, ŷ⟩ (1 when not stored or folded into norm)
  float gamma = 0;   ///< ‖y − ŷ‖ (0 when QJL is off)
};

/// A rotated query prepared for scoring codes: Πq (and S·Πq when QJL is on) plus ‖q‖.
struct PreparedQuery {
  std::vector<float> rotated;  ///< (d) Π·q
  std::vector<float> sketch;   ///< (d) S·Π·q, QJL only
  float norm = 0;              ///< ‖q‖
};

class TurboQuantizer {
 public:
  /// @param d  dimension, 1..65536
  TurboQuantizer(int d, const TurboQuantizerOptions& options = {});
  ~TurboQuantizer();
  TurboQuantizer(const TurboQuantizer&) = delete;
  TurboQuantizer& operator=(const TurboQuantizer&) = delete;

  int d() const { return d_; }
  const TurboQuantizerOptions& options() const { return options_; }
  const BitAllocation& allocation() const { return alloc_; }
  const Rotation& rotation() const { return *rotation_; }
  /// Codebook for coordinates with `bits` bits (low_bits or high_bits of the allocation).
  const LloydMaxCodebook& codebook(int bits) const;

  size_t code_size() const { return code_size_; }  ///< bytes per vector, all sections
  size_t mse_bytes() const { return alloc_.packed_bytes(); }
  double bits_per_vector() const { return 8.0 * double(code_size_); }

  /// Encode n vectors. Rejects NaN/Inf, norms above FLT_MAX and stored scales a float16 slot cannot hold (fp16_norm:
  /// above 65504) with the (first) row index in the message; after such an error the contents of `codes` are
  /// unspecified. OpenMP over rows.
  /// @param x          (n, d) row-major float32
  /// @param codes      (n, code_size()) output
  /// @param first_row  number of row 0 in error messages (callers that encode a larger batch in chunks)
  void encode(size_t n, const float* x, uint8_t* codes, size_t first_row = 0) const;
  /// Encode the rows of x − mean (coordinate j of row i is the float x[i][j] − mean[j]) without a centered copy:
  /// the same codes as encode() of the explicitly subtracted rows. Errors as encode(), for the centered rows.
  /// @param x      (n, d) row-major float32
  /// @param mean   (d) float32
  /// @param codes  (n, code_size()) output
  void encode_centered(size_t n, const float* x, const float* mean, uint8_t* codes, size_t first_row = 0) const;
  /// Reconstruct ‖x‖·Πᵀŷ (the mse reconstruction; the QJL sketch is not added; fold_renorm: (‖x‖/ρ)·Πᵀŷ).
  /// @param x (n, d) output
  void decode(size_t n, const uint8_t* codes, float* x) const;

  /// Section accessors for one row code.
  VectorFactors factors(const uint8_t* code) const;
  void unpack_indices(const uint8_t* code, uint8_t* idx) const;  ///< idx: (d)
  /// ŷ for one code, (d) floats in rotated coordinates (unit-norm scale).
  void decode_rotated_unit(const uint8_t* code, float* y_hat) const;

  /// Rotate (and sketch) one query. @param q (d) float32
  PreparedQuery prepare_query(const float* q) const;
  /// ⟨Πq, ŷ⟩ for one code (unit-norm scale, no ‖x‖), summed in a fixed order so that SIMD and GPU kernels give
  /// the same float: products qr[j]·c[idx_j] (no fused multiply-add) added into 8 lanes, lane j mod 8 in increasing
  /// j, then ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)) (internal::reduce_lanes).
  float dot_rotated(const PreparedQuery& q, const uint8_t* code) const;
  /// Estimate of ⟨q, x⟩ with the chosen estimator (checked against the options).
  float inner_product(const PreparedQuery& q, const uint8_t* code, Estimator est) const;
  /// QJL term alone: γ·κ/m·⟨SΠq, sign(S·r)⟩ (unit-norm scale; multiply by ‖x‖).
  float qjl_correction(const PreparedQuery& q, const uint8_t* code) const;
  /// Standard-deviation bound of the QJL estimate of ⟨q, x⟩ for this code: ‖x‖·γ·‖q‖·√(π/(2m))
  /// (QJL lemma; Thm 2 when averaged over x). 0 when QJL is off.
  float qjl_stddev(const PreparedQuery& q, const uint8_t* code) const;
  /// Whether `est` can be used with these options.
  bool supports(Estimator est) const;

  /// κ such that E[κ/m·⟨Sq, sign(S·r)⟩] = ⟨q, r⟩/‖r‖: √(π/2) for Gaussian S, 1/(√d·E|u₁|) for structured S.
  double qjl_kappa() const { return kappa_; }
  /// Apply S to n vectors (d) → (d). Used by encode/prepare_query; public for the GPU layer and tests.
  void apply_sketch(size_t n, const float* in, float* out) const;

 private:
  struct EncodeScratch;  // per-thread buffers of encode
  /// Encode rows in groups of kEncodeGroup (the per-row sums of a group run side by side).
  static constexpr size_t kEncodeGroup = 4;
  enum : int { kRowBad = 0, kRowDone = 1, kRowNeedsFactors = 2, kRowNeedsRotation = 3 };
  /// encode() and encode_centered() (mean == nullptr: rows as they are).
  void encode_rows(size_t n, const float* x, const float* mean, uint8_t* codes, size_t first_row) const;
  /// Norm (into code, from ss = ‖x‖²) and y = x/‖x‖ (y may be x). kRowBad (nothing meaningful written) when the
  /// row has NaN/Inf or a norm above FLT_MAX; kRowDone for a zero vector; else kRowNeedsRotation (y is then rotated
  /// in place by the caller).
  int encode_norm(const float* x, double ss, uint8_t* code, float* y) const;
  /// Write the norm slot (f32, or f16 with fp16_norm); false when the value does not fit (Inf).
  bool store_norm_slot(uint8_t* code, float value) const;
  /// Indices of the rotated y (into idx, packed into code); kRowNeedsFactors when ρ / QJL remain to be written.
  int encode_rotated(float* y, uint8_t* idx, uint8_t* code, EncodeScratch& scratch) const;
  /// ρ, γ and the QJL signs of one row (y is overwritten).
  void encode_factors(float* y, const uint8_t* idx, uint8_t* code, EncodeScratch& scratch) const;
  /// m <= kEncodeGroup consecutive rows; returns the offset of the first bad row in the group, or −1.
  int64_t encode_group(const float* x, const float* mean, size_t m, uint8_t* codes, EncodeScratch& scratch) const;
  double cosine_of(const float* y, const uint8_t* idx) const;
  void optimize_cosine(const float* y, uint8_t* idx, EncodeScratch& scratch) const;
  /// Scales t swept by optimize_cosine (relative to the nearest-centroid code at t = 1), and its bucket count.
  static constexpr float kScaleLo = 0.25f, kScaleHi = 4.0f;
  static constexpr int kScaleBuckets = 256;

  int d_;
  TurboQuantizerOptions options_;
  BitAllocation alloc_;
  std::unique_ptr<Rotation> rotation_;
  const HadamardRotation* hadamard_ = nullptr;  // rotation_ when it is a HadamardRotation (grouped encode)
  const LloydMaxCodebook* cb_low_ = nullptr;
  const LloydMaxCodebook* cb_high_ = nullptr;
  std::unique_ptr<Rotation> sketch_rotation_;  // structured QJL
  std::vector<float> sketch_gauss_;            // Gaussian QJL, (d, d) row-major
  double kappa_ = 0;
  float sign_c_ = 0;  // 1 bit with centroids exactly ±sign_c_ and boundary 0: ρ needs no indices (else 0)
  size_t norm_offset_ = 0, renorm_offset_ = 0, gamma_offset_ = 0, sign_offset_ = 0, code_size_ = 0;
};

}  // namespace tqsearch
