// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/turbo_quantizer.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/error.h"
#include "quant/hadamard_rotation.h"
#include "quant/internal/encode_kernels.h"
#include "quant/internal/lane_sum.h"
#include "quant/internal/float16.h"
#include "quant/internal/quantize.h"
#include "quant/internal/random.h"

namespace tqsearch {
namespace {

constexpr double kPi = 3.14159265358979323846;

inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, 4); }
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

void quantize_range(const LloydMaxCodebook& cb, const float* y, int n, uint8_t* idx) {
  internal::quantize(simd_level(), cb.boundaries().data(), static_cast<int>(cb.boundaries().size()), y, n, idx);
}

// Per-call index buffer: on the stack for d <= 1024 (rerank and HNSW decode one vector at a time), else heap.
class IndexScratch {
 public:
  explicit IndexScratch(int d) : p_(buf_) {
    if (d > int(sizeof buf_)) {
      heap_.resize(d);
      p_ = heap_.data();
    }
  }
  IndexScratch(const IndexScratch&) = delete;
  IndexScratch& operator=(const IndexScratch&) = delete;
  uint8_t* get() { return p_; }

 private:
  uint8_t buf_[1024];
  std::vector<uint8_t> heap_;
  uint8_t* p_;
};

}  // namespace

TurboQuantizer::TurboQuantizer(int d, const TurboQuantizerOptions& options) : d_(d), options_(options) {
  TQ_CHECK(d >= 1 && d <= 65536, "TurboQuantizer: dimension d must be in 1..65536, got " << d);
  TQ_CHECK(std::isfinite(options.bits) && options.bits >= 1 && options.bits <= 8,
           "TurboQuantizer: bits per coordinate must be in [1, 8], got " << options.bits);
  TQ_CHECK(!options.optimize_cosine || options.store_renorm,
           "TurboQuantizer: optimize_cosine needs store_renorm (only the renormalized estimator is scale-free)");
  TQ_CHECK(!options.fold_renorm || (options.store_renorm && !options.qjl),
           "TurboQuantizer: fold_renorm stores ‖x‖/ρ in place of ‖x‖ and ρ, so it needs store_renorm and excludes qjl "
           "(got store_renorm = " << options.store_renorm << ", qjl = " << options.qjl << ")");
  alloc_ = BitAllocation(d, options.bits);
  rotation_ = make_rotation(d, options.rotation);
  hadamard_ = dynamic_cast<const HadamardRotation*>(rotation_.get());
  cb_low_ = &LloydMaxCodebook::get(d, alloc_.low_bits());
  cb_high_ = alloc_.num_high() > 0 ? &LloydMaxCodebook::get(d, alloc_.high_bits()) : cb_low_;
  if (alloc_.num_high() == 0 && alloc_.low_bits() == 1) {
    const std::vector<float>& c = cb_low_->centroids();
    if (cb_low_->boundaries()[0] == 0.0f && c[1] > 0 && c[0] == -c[1]) sign_c_ = c[1];
  }

  size_t off = alloc_.packed_bytes();
  norm_offset_ = off;
  off += options.fp16_norm ? 2 : 4;
  if (options.store_renorm && !options.fold_renorm) {
    renorm_offset_ = off;
    off += 4;
  }
  if (options.qjl) {
    gamma_offset_ = off;
    off += 4;
    sign_offset_ = off;
    off += (size_t(d) + 7) / 8;
    if (options.qjl_kind == QjlKind::kStructured) {
      sketch_rotation_ = std::make_unique<HadamardRotation>(d, options.qjl_seed, 0);
      // E|u₁| for u uniform on S^(d−1): Γ(d/2) / (√π·Γ((d+1)/2)).
      const double e_abs = std::exp(std::lgamma(d / 2.0) - std::lgamma((d + 1) / 2.0)) / std::sqrt(kPi);
      kappa_ = 1.0 / (std::sqrt(double(d)) * e_abs);
    } else if (options.qjl_kind == QjlKind::kGaussian) {
      TQ_CHECK(d <= 8192, "TurboQuantizer: Gaussian QJL sketch needs d <= 8192 (d² floats), got d = "
                              << d << "; use QjlKind::kStructured");
      internal::Rng rng(options.qjl_seed);
      sketch_gauss_.resize(size_t(d) * d);
      for (auto& v : sketch_gauss_) v = static_cast<float>(rng.normal());
      kappa_ = std::sqrt(kPi / 2);
    } else {
      TQ_THROW("TurboQuantizer: unknown QJL kind " << static_cast<uint32_t>(options.qjl_kind)
                                                   << " (allowed: 1 = structured, 2 = Gaussian)");
    }
  }
  code_size_ = off;
}

TurboQuantizer::~TurboQuantizer() = default;

const LloydMaxCodebook& TurboQuantizer::codebook(int bits) const {
  if (bits == alloc_.low_bits()) return *cb_low_;
  TQ_CHECK(alloc_.num_high() > 0 && bits == alloc_.high_bits(),
           "TurboQuantizer::codebook: no codebook with " << bits << " bits (have " << alloc_.low_bits()
                                                         << (alloc_.num_high() > 0 ? " and one more" : "") << ")");
  return *cb_high_;
}

void TurboQuantizer::apply_sketch(size_t n, const float* in, float* out) const {
  TQ_CHECK(options_.qjl, "TurboQuantizer::apply_sketch: the QJL option is off");
  if (sketch_rotation_) {
    const float s = std::sqrt(static_cast<float>(d_));
    for (size_t i = 0; i < n; ++i) {
      static_cast<const HadamardRotation&>(*sketch_rotation_).forward(1, in + i * d_, out + i * d_);
      for (int j = 0; j < d_; ++j) out[i * d_ + j] *= s;
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> tmp(in + i * d_, in + (i + 1) * d_);
    for (int r = 0; r < d_; ++r) {
      const float* row = sketch_gauss_.data() + size_t(r) * d_;
      float acc = 0;
      for (int j = 0; j < d_; ++j) acc += row[j] * tmp[j];
      out[i * d_ + r] = acc;
    }
  }
}

/// Per-thread buffers of encode(): y and indices of a group of rows, a (3d) float work area (the residual r and
/// the sketch output of QJL, optimize_cosine's trial indices), and optimize_cosine's events and cell counters.
struct TurboQuantizer::EncodeScratch {
  explicit EncodeScratch(int d)
      : buf(3 * size_t(d) + 4),
        ys(kEncodeGroup * size_t(d)),
        idxs(kEncodeGroup * size_t(d)),
        bucket_count(kScaleBuckets + 1),
        bucket_pos(kScaleBuckets),
        cell(size_t(d)),
        cell_start(size_t(d)) {}
  std::vector<float> buf;
  std::vector<float> ys;       // (kEncodeGroup, d) rotated unit vectors
  std::vector<uint8_t> idxs;   // (kEncodeGroup, d) cell indices
  // optimize_cosine: event keys (bits of t << 32 | coordinate), their bucket, the bucket-sorted keys
  std::vector<uint64_t> keys, keys_sorted;
  std::vector<uint16_t> key_bucket;
  std::vector<int32_t> bucket_count, bucket_pos;
  std::vector<uint8_t> cell, cell_start;
};

bool TurboQuantizer::store_norm_slot(uint8_t* code, float value) const {
  if (options_.fp16_norm) {
    const uint16_t h = internal::float_to_half(value);
    std::memcpy(code + norm_offset_, &h, 2);
    return (h & 0x7c00u) != 0x7c00u;  // above 65504 rounds to Inf
  }
  store_f32(code + norm_offset_, value);
  return std::isfinite(value);
}

int TurboQuantizer::encode_norm(const float* x, double ss, uint8_t* code, float* y) const {
  // A NaN/Inf coordinate makes ss NaN or +inf: together with an overflowing norm, the one check of the row
  // (encode() reports which case after its parallel loop).
  if (!(std::sqrt(ss) <= double(FLT_MAX))) return kRowBad;
  const float norm = static_cast<float>(std::sqrt(ss));
  std::memset(code, 0, code_size_);
  // With fold_renorm the slot gets ‖x‖/ρ once ρ is known (encode_group); a zero vector keeps 0 there.
  if (!options_.fold_renorm && !store_norm_slot(code, norm)) return kRowBad;
  if (norm == 0) {  // zero vector: all estimates are 0; ρ = 1 keeps them finite (overflow was rejected above)
    if (options_.store_renorm && !options_.fold_renorm) store_f32(code + renorm_offset_, 1.0f);
    return kRowDone;
  }
  const float inv = static_cast<float>(1.0 / std::sqrt(ss));
  for (int j = 0; j < d_; ++j) y[j] = x[j] * inv;
  return kRowNeedsRotation;
}

int TurboQuantizer::encode_rotated(float* y, uint8_t* idx, uint8_t* code, EncodeScratch& scratch) const {
  if (alloc_.num_high() == 0 && alloc_.low_bits() == 1) {  // no choice for optimize_cosine at 1 bit
    // The indices are only needed by QJL and by ρ when the codebook is not the symmetric ±c one.
    uint8_t* want_idx = sign_c_ > 0 && !options_.qjl ? nullptr : idx;
    internal::quantize_pack_1bit(simd_level(), cb_low_->boundaries()[0], y, d_, want_idx, code);
    return options_.store_renorm || options_.qjl ? kRowNeedsFactors : kRowDone;
  }
  const int nh = alloc_.num_high();
  if (nh > 0) quantize_range(*cb_high_, y, nh, idx);
  quantize_range(*cb_low_, y + nh, d_ - nh, idx + nh);
  if (options_.optimize_cosine) optimize_cosine(y, idx, scratch);
  alloc_.pack(idx, code);
  return options_.store_renorm || options_.qjl ? kRowNeedsFactors : kRowDone;
}

void TurboQuantizer::encode_factors(float* y, const uint8_t* idx, uint8_t* code, EncodeScratch& scratch) const {
  // ρ: one sequential double sum over j = 0..d−1 (the order fixes the bits the GPU encode compares against).
  const int nh = alloc_.num_high();
  const float* ch = cb_high_->centroids().data();
  const float* cl = cb_low_->centroids().data();
  float* r = scratch.buf.data();
  double rho = 0;
  for (int j = 0; j < d_; ++j) {
    const float yh = (j < nh ? ch : cl)[idx[j]];
    rho += double(y[j]) * yh;
    r[j] = y[j] - yh;
  }
  if (options_.store_renorm && !options_.fold_renorm) {  // (fold excludes QJL: never reached folded today)
    // ρ > 0 always for nearest-centroid codes (each y_j·ŷ_j >= 0 by symmetry); guard against underflow.
    store_f32(code + renorm_offset_, static_cast<float>(std::max(rho, 1e-6)));
  }
  if (options_.qjl) {
    double g = 0;
    for (int j = 0; j < d_; ++j) g += double(r[j]) * r[j];
    store_f32(code + gamma_offset_, static_cast<float>(std::sqrt(g)));
    apply_sketch(1, r, y);  // y is free now
    uint8_t* sg = code + sign_offset_;
    for (int j = 0; j < d_; ++j) sg[j >> 3] |= static_cast<uint8_t>((y[j] >= 0 ? 1u : 0u) << (j & 7));
  }
}

int64_t TurboQuantizer::encode_group(const float* x, const float* mean, size_t m, uint8_t* codes,
                                     EncodeScratch& scratch) const {
  int status[kEncodeGroup];
  int64_t bad = -1;
  size_t to_rotate = 0;
  // Norms of the m rows side by side (of x − mean, formed in the row buffers, when centering: the same floats as a
  // copy), then each row's norm is stored and its unit vector written to ys.
  const float* src = x;
  if (mean != nullptr) {
    for (size_t v = 0; v < m; ++v) {
      float* y = scratch.ys.data() + v * d_;
      const float* xv = x + v * d_;
      for (int j = 0; j < d_; ++j) y[j] = xv[j] - mean[j];
    }
    src = scratch.ys.data();
  }
  double ss[kEncodeGroup];
  internal::sum_squares_rows(simd_level(), src, size_t(d_), d_, int(m), ss);
  for (size_t v = 0; v < m; ++v) {
    status[v] = encode_norm(src + v * d_, ss[v], codes + v * code_size_, scratch.ys.data() + v * d_);
    if (status[v] == kRowBad && bad < 0) bad = int64_t(v);
    to_rotate += status[v] == kRowNeedsRotation;
  }
  if (hadamard_ != nullptr && to_rotate == m) {
    hadamard_->forward_rows_inplace(m, scratch.ys.data());  // the rows' FWHTs interleaved, same bits
  } else {
    for (size_t v = 0; v < m; ++v)
      if (status[v] == kRowNeedsRotation) rotation_->forward(1, scratch.ys.data() + v * d_, scratch.ys.data() + v * d_);
  }
  for (size_t v = 0; v < m; ++v) {
    if (status[v] == kRowNeedsRotation)
      status[v] = encode_rotated(scratch.ys.data() + v * d_, scratch.idxs.data() + v * d_, codes + v * code_size_,
                                 scratch);
  }
  if (options_.qjl) {
    for (size_t v = 0; v < m; ++v) {
      if (status[v] == kRowNeedsFactors)
        encode_factors(scratch.ys.data() + v * d_, scratch.idxs.data() + v * d_, codes + v * code_size_, scratch);
    }
    return bad;
  }
  bool any_factors = false;
  for (size_t v = 0; v < m; ++v) any_factors |= status[v] == kRowNeedsFactors;
  if (any_factors) {
    // ρ of the group's rows side by side: each row's sum is still the same sequential chain over j (identical
    // bits); the rows' chains hide each other's add latency. Rows past m or not rotated (zero, bad) are summed
    // from whatever their buffers hold and not stored.
    static_assert(kEncodeGroup == 4, "the ρ kernel takes groups of 4 rows");
    internal::RhoArgs ra;
    ra.y = scratch.ys.data();
    ra.idx = scratch.idxs.data();
    ra.d = d_;
    ra.nh = alloc_.num_high();
    ra.ch = cb_high_->centroids().data();
    ra.nbh = alloc_.high_bits();
    ra.cl = cb_low_->centroids().data();
    ra.nbl = alloc_.low_bits();
    ra.sign_c = sign_c_;
    double rho[kEncodeGroup];
    internal::rho_rows4(simd_level(), ra, rho);
    for (size_t v = 0; v < m; ++v) {
      if (status[v] != kRowNeedsFactors) continue;
      const float r = static_cast<float>(std::max(rho[v], 1e-6));
      if (!options_.fold_renorm) {
        store_f32(codes + v * code_size_ + renorm_offset_, r);
      } else if (!store_norm_slot(codes + v * code_size_, static_cast<float>(std::sqrt(ss[v])) / r) &&
                 (bad < 0 || int64_t(v) < bad)) {
        bad = int64_t(v);  // ‖x‖/ρ overflows the slot
      }
    }
  }
  return bad;
}

double TurboQuantizer::cosine_of(const float* y, const uint8_t* idx) const {
  const int nh = alloc_.num_high();
  const float* ch = cb_high_->centroids().data();
  const float* cl = cb_low_->centroids().data();
  double dot = 0, nn = 0;
  for (int j = 0; j < d_; ++j) {
    const float c = (j < nh ? ch : cl)[idx[j]];
    dot += double(y[j]) * c;
    nn += double(c) * c;
  }
  return nn > 0 ? dot / std::sqrt(nn) : -1.0;
}

void TurboQuantizer::optimize_cosine(const float* y, uint8_t* idx, EncodeScratch& scratch) const {
  // The code maximizing ⟨y, c⟩/‖c‖ over the product codebook is the nearest-centroid code of t·y for some t > 0
  // (if c* is the maximizer with norm N and cosine κ, every c has ‖c‖² − 2t⟨y, c⟩ >= N² − 2tκN at t = N/κ).
  // As t grows from 0+, coordinate j (a = |y_j|) walks up its positive half-codebook, entering cell k + 1 at
  // t = B_k/a (B_k the positive boundaries). Sweep those events in order, updating ⟨y, c⟩ and ‖c‖² incrementally.
  // Codebooks are symmetric: the sign of y_j picks the mirrored index.
  const int nh = alloc_.num_high();
  const LloydMaxCodebook* cbs[2] = {cb_high_, cb_low_};
  const int half[2] = {cb_high_->size() / 2, cb_low_->size() / 2};
  if (half[0] < 2 && half[1] < 2) return;  // 1 bit: the code is the sign pattern, nothing to choose
  // Events below kScaleLo are applied up front (the start state is the nearest-centroid code of kScaleLo·y), events
  // above kScaleHi are never reached; those in between are ordered by a counting sort into kScaleBuckets buckets
  // linear in t, then an insertion sort inside each bucket (a few events each): O(events), no global sort.
  // Each event is one 64-bit key (bits of t << 32 | j): t > 0, so its bits order like t; ties go to smaller j.
  const size_t max_events = size_t(d_) * size_t(std::max(half[0], half[1]));
  if (scratch.keys.size() < max_events) {
    scratch.keys.resize(max_events);
    scratch.keys_sorted.resize(max_events);
    scratch.key_bucket.resize(max_events);
  }
  uint64_t* keys = scratch.keys.data();
  uint64_t* sorted = scratch.keys_sorted.data();
  uint16_t* key_bucket = scratch.key_bucket.data();
  int32_t* count = scratch.bucket_count.data();  // (kScaleBuckets + 1)
  std::memset(count, 0, sizeof(int32_t) * (kScaleBuckets + 1));
  const float inv_width = float(kScaleBuckets) / (kScaleHi - kScaleLo);
  size_t ne = 0;
  double dot = 0, nn = 0;
  for (int j = 0; j < d_; ++j) {
    const int c = j < nh ? 0 : 1;
    const int h = half[c];
    const float* cen = cbs[c]->centroids().data();
    const float* bnd = cbs[c]->boundaries().data();
    const float a = std::fabs(y[j]);
    int k = 0;
    // Cells entered below kScaleLo (t = B_k/a < kScaleLo  ⇔  B_k < kScaleLo·a).
    while (k + 1 < h && bnd[h + k] < kScaleLo * a) ++k;
    scratch.cell[size_t(j)] = uint8_t(k);
    dot += double(a) * cen[h + k];
    nn += double(cen[h + k]) * cen[h + k];
    for (; k + 1 < h; ++k) {
      const float t = bnd[h + k] / a;
      if (!(t <= kScaleHi)) break;
      const int bi = std::min(int((t - kScaleLo) * inv_width), kScaleBuckets - 1);
      uint32_t tb;
      std::memcpy(&tb, &t, 4);
      keys[ne] = (uint64_t(tb) << 32) | uint32_t(j);
      key_bucket[ne] = uint16_t(bi);
      ++count[bi + 1];
      ++ne;
    }
  }
  for (int bi = 0; bi < kScaleBuckets; ++bi) count[bi + 1] += count[bi];
  {
    int32_t* pos = scratch.bucket_pos.data();
    std::memcpy(pos, count, sizeof(int32_t) * kScaleBuckets);
    for (size_t e = 0; e < ne; ++e) sorted[pos[key_bucket[e]]++] = keys[e];
    for (int bi = 0; bi < kScaleBuckets; ++bi) {
      const int32_t lo = count[bi], hi = count[bi + 1];
      for (int32_t i = lo + 1; i < hi; ++i) {
        const uint64_t e = sorted[i];
        int32_t m = i;
        while (m > lo && e < sorted[m - 1]) {
          sorted[m] = sorted[m - 1];
          --m;
        }
        sorted[m] = e;
      }
    }
  }
  std::vector<uint8_t>& start = scratch.cell_start;
  std::memcpy(start.data(), scratch.cell.data(), size_t(d_));
  // Compare cosines without sqrt/division: dot > 0 in every state, so cos₁ > cos₀ ⇔ dot₁²·nn₀ > dot₀²·nn₁.
  double best_dot2 = dot * dot, best_nn = nn;
  size_t best_count = 0;  // events applied in the best state
  for (size_t e = 0; e < ne; ++e) {
    const int j = int(uint32_t(sorted[e]));
    const int c = j < nh ? 0 : 1;
    const int h = half[c];
    const float* cen = cbs[c]->centroids().data();
    const int k = scratch.cell[size_t(j)]++;
    const double c0 = cen[h + k], c1 = cen[h + k + 1];
    dot += double(std::fabs(y[j])) * (c1 - c0);
    nn += c1 * c1 - c0 * c0;
    const double dot2 = dot * dot;
    if (dot2 * best_nn > best_dot2 * nn) {
      best_dot2 = dot2;
      best_nn = nn;
      best_count = e + 1;
    }
  }
  // Rebuild the cells of the best state, then keep it only if it beats the nearest-centroid code (which is one of
  // the swept states up to ties in the event order).
  std::memcpy(scratch.cell.data(), start.data(), size_t(d_));
  for (size_t e = 0; e < best_count; ++e) ++scratch.cell[size_t(uint32_t(sorted[e]))];
  uint8_t* trial = reinterpret_cast<uint8_t*>(scratch.buf.data());  // work area (scratch.buf is unused meanwhile)
  for (int j = 0; j < d_; ++j) {
    const int h = half[j < nh ? 0 : 1];
    const int k = scratch.cell[size_t(j)];
    trial[j] = uint8_t(y[j] < 0 ? h - 1 - k : h + k);
  }
  if (cosine_of(y, trial) > cosine_of(y, idx)) std::memcpy(idx, trial, size_t(d_));
}

void TurboQuantizer::encode(size_t n, const float* x, uint8_t* codes, size_t first_row) const {
  if (n == 0) return;
  TQ_CHECK(x != nullptr && codes != nullptr, "TurboQuantizer::encode: null input or output pointer");
  encode_rows(n, x, nullptr, codes, first_row);
}

void TurboQuantizer::encode_centered(size_t n, const float* x, const float* mean, uint8_t* codes,
                                     size_t first_row) const {
  if (n == 0) return;
  TQ_CHECK(x != nullptr && mean != nullptr && codes != nullptr,
           "TurboQuantizer::encode_centered: null input, mean or output pointer");
  encode_rows(n, x, mean, codes, first_row);
}

void TurboQuantizer::encode_rows(size_t n, const float* x, const float* mean, uint8_t* codes,
                                 size_t first_row) const {
  // Each row is checked inside encode_norm (finite values and a norm that fits in a float, from the norm it computes
  // anyway); nothing may throw inside the OpenMP region (an exception leaving one terminates the process), so a bad
  // row is only recorded there and reported after the loop. Then the contents of `codes` are unspecified.
  int64_t bad_row = -1;
  const size_t groups = (n + kEncodeGroup - 1) / kEncodeGroup;
#pragma omp parallel if (n > 64)
  {
    EncodeScratch scratch(d_);
    int64_t my_bad = -1;
#pragma omp for schedule(static)
    for (size_t g = 0; g < groups; ++g) {
      const size_t i = g * kEncodeGroup, m = std::min<size_t>(kEncodeGroup, n - i);
      const int64_t b = encode_group(x + i * d_, mean, m, codes + i * code_size_, scratch);
      if (b >= 0 && my_bad < 0) my_bad = int64_t(i) + b;
    }
    if (my_bad >= 0) {
#pragma omp critical(tq_bad_row)
      if (bad_row < 0 || my_bad < bad_row) bad_row = my_bad;
    }
  }
  if (bad_row >= 0) {
    const float* row = x + size_t(bad_row) * d_;
    auto value = [&](int j) { return mean != nullptr ? row[j] - mean[j] : row[j]; };
    int j = 0;
    while (j < d_ && std::isfinite(value(j))) ++j;
    const size_t row_no = first_row + size_t(bad_row);
    TQ_CHECK(j == d_, "TurboQuantizer::encode: row " << row_no << (mean != nullptr ? " minus the mean" : "")
                                                     << " has a non-finite value (" << value(j) << ") at column " << j
                                                     << "; only finite floats can be encoded");
    double ss = 0;
    for (int k = 0; k < d_; ++k) ss += double(value(k)) * value(k);
    if (std::sqrt(ss) <= double(FLT_MAX)) {
      TQ_THROW("TurboQuantizer::encode: row " << row_no << (mean != nullptr ? " minus the mean" : "") << " has norm "
                                              << std::sqrt(ss) << ": its stored "
                                              << (options_.fold_renorm ? "scale ‖x‖/ρ" : "norm") << " exceeds the "
                                              << (options_.fp16_norm ? "float16 maximum 65504" : "float range")
                                              << "; scale the vectors down"
                                              << (options_.fp16_norm ? " or turn off fp16_norm" : ""));
    }
    TQ_THROW("TurboQuantizer::encode: row " << row_no << (mean != nullptr ? " minus the mean" : "")
                                            << " has a norm above FLT_MAX; scale the vectors down");
  }
}

VectorFactors TurboQuantizer::factors(const uint8_t* code) const {
  VectorFactors f;
  if (options_.fp16_norm) {
    uint16_t h;
    std::memcpy(&h, code + norm_offset_, 2);
    f.norm = internal::half_to_float(h);
  } else {
    f.norm = load_f32(code + norm_offset_);
  }
  if (options_.store_renorm && !options_.fold_renorm) f.renorm = load_f32(code + renorm_offset_);
  if (options_.qjl) f.gamma = load_f32(code + gamma_offset_);
  return f;
}

void TurboQuantizer::unpack_indices(const uint8_t* code, uint8_t* idx) const { alloc_.unpack(code, idx); }

void TurboQuantizer::decode_rotated_unit(const uint8_t* code, float* y_hat) const {
  IndexScratch scratch(d_);
  uint8_t* idx = scratch.get();
  alloc_.unpack(code, idx);
  const int nh = alloc_.num_high();
  const float* ch = cb_high_->centroids().data();
  const float* cl = cb_low_->centroids().data();
  for (int j = 0; j < d_; ++j) y_hat[j] = (j < nh ? ch : cl)[idx[j]];
}

void TurboQuantizer::decode(size_t n, const uint8_t* codes, float* x) const {
  if (n == 0) return;
  TQ_CHECK(x != nullptr && codes != nullptr, "TurboQuantizer::decode: null input or output pointer");
  auto one = [&](size_t i) {
    const uint8_t* code = codes + i * code_size_;
    float* out = x + i * d_;
    decode_rotated_unit(code, out);
    rotation_->inverse(1, out, out);
    const float norm = factors(code).norm;
    for (int j = 0; j < d_; ++j) out[j] *= norm;
  };
  // No OpenMP region for small n (even an if(false) region costs more than decoding one vector).
  if (n <= 64 || omp_in_parallel()) {
    for (size_t i = 0; i < n; ++i) one(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) one(i);
}

PreparedQuery TurboQuantizer::prepare_query(const float* q) const {
  TQ_CHECK(q != nullptr, "TurboQuantizer::prepare_query: null query");
  PreparedQuery p;
  p.rotated.assign(q, q + d_);
  double ss = 0;
  for (int j = 0; j < d_; ++j) {
    TQ_CHECK(std::isfinite(q[j]), "TurboQuantizer: query has a non-finite value (" << q[j] << ") at column " << j);
    ss += double(q[j]) * q[j];
  }
  p.norm = static_cast<float>(std::sqrt(ss));
  rotation_->forward(1, p.rotated.data(), p.rotated.data());
  if (options_.qjl) {
    p.sketch.resize(d_);
    apply_sketch(1, p.rotated.data(), p.sketch.data());
  }
  return p;
}

float TurboQuantizer::dot_rotated(const PreparedQuery& q, const uint8_t* code) const {
  IndexScratch scratch(d_);
  uint8_t* idx = scratch.get();
  alloc_.unpack(code, idx);
  const int nh = alloc_.num_high();
  const float* ch = cb_high_->centroids().data();
  const float* cl = cb_low_->centroids().data();
  const float* qr = q.rotated.data();
  // The documented order (header): 8 lanes by j mod 8, products then sums, then a fixed tree; a SIMD kernel
  // computes the same float (internal::dot_nibbles for uniform 4-bit codes, the GPU rerank).
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < nh; ++j) l[j & 7] = l[j & 7] + qr[j] * ch[idx[j]];
  for (int j = nh; j < d_; ++j) l[j & 7] = l[j & 7] + qr[j] * cl[idx[j]];
  return internal::reduce_lanes(l);
}

float TurboQuantizer::qjl_correction(const PreparedQuery& q, const uint8_t* code) const {
  if (!options_.qjl) return 0;
  const uint8_t* sg = code + sign_offset_;
  const float* s = q.sketch.data();
  float acc = 0;
  for (int j = 0; j < d_; ++j) acc += ((sg[j >> 3] >> (j & 7)) & 1) ? s[j] : -s[j];
  const float gamma = load_f32(code + gamma_offset_);
  return gamma * static_cast<float>(kappa_ / d_) * acc;
}

const char* estimator_name(Estimator est) {
  switch (est) {
    case Estimator::kMse: return "mse";
    case Estimator::kRenorm: return "renorm";
    case Estimator::kQjl: return "qjl";
  }
  return "unknown";
}

const char* estimator_requirement(Estimator est) {
  switch (est) {
    case Estimator::kMse: return "‖x‖ in the codes (not kept with fold_renorm)";
    case Estimator::kRenorm: return "codes built with store_renorm";
    case Estimator::kQjl: return "codes built with qjl";
  }
  return "a known estimator (0 = mse, 1 = renorm, 2 = qjl)";
}

bool TurboQuantizer::supports(Estimator est) const {
  switch (est) {
    case Estimator::kMse: return !options_.fold_renorm;  // ‖x‖ alone is not kept
    case Estimator::kRenorm: return options_.store_renorm;
    case Estimator::kQjl: return options_.qjl;
  }
  return false;
}

float TurboQuantizer::inner_product(const PreparedQuery& q, const uint8_t* code, Estimator est) const {
  TQ_CHECK(supports(est), "TurboQuantizer::inner_product: estimator " << static_cast<uint32_t>(est) << " needs "
                                                                      << estimator_requirement(est));
  const VectorFactors f = factors(code);
  const float dot = dot_rotated(q, code);
  switch (est) {
    case Estimator::kMse: return f.norm * dot;
    case Estimator::kRenorm: return f.norm * dot / f.renorm;
    case Estimator::kQjl: return f.norm * (dot + qjl_correction(q, code));
  }
  return 0;
}

float TurboQuantizer::qjl_stddev(const PreparedQuery& q, const uint8_t* code) const {
  if (!options_.qjl) return 0;
  const VectorFactors f = factors(code);
  return f.norm * f.gamma * q.norm * static_cast<float>(std::sqrt(kPi / (2.0 * d_)));
}

}  // namespace tqsearch
