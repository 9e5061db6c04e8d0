// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/internal/turbo_quant_distance_computer.h"

#include <cfloat>
#include <cmath>
#include <limits>

#include "index/internal/normalize_row.h"
#include "quant/error.h"

namespace tqsearch::internal {

TurboQuantDistanceComputer::TurboQuantDistanceComputer(const IndexTurboQuant& index, Estimator estimator)
    : faiss::FlatCodesDistanceComputer(index.codes.data(), index.code_size),
      index_(index),
      tq_(index.quantizer()),
      estimator_(estimator),
      l2_(index.metric() == IndexMetric::kL2),
      buf_(2 * size_t(index.d)),
      idx_(size_t(index.d)),
      centroids_high_(tq_.codebook(tq_.allocation().high_bits()).centroids().data()),
      centroids_low_(tq_.codebook(tq_.allocation().low_bits()).centroids().data()),
      num_high_(tq_.allocation().num_high()) {
  const int b = tq_.allocation().low_bits();
  if (num_high_ == 0 && (b == 1 || b == 2 || b == 4 || b == 8)) uniform_bits_ = b;
  TQ_CHECK(tq_.supports(estimator),
           "distance computer: estimator " << uint32_t(estimator) << " is not available with these codes");
}

void TurboQuantDistanceComputer::set_query(const float* x) {
  const int d = index_.d;
  valid_query_ = false;
  zero_query_ = false;
  double s = 0;
  for (int j = 0; j < d; ++j) {
    if (!std::isfinite(x[j])) return;
    s += double(x[j]) * x[j];
  }
  const float* q = x;
  const bool cosine = index_.metric() == IndexMetric::kCosine;
  if (cosine) {
    if (!(s > 0)) {
      // A zero query scores 0 against every row (FAISS semantics), centered or not.
      zero_query_ = true;
      valid_query_ = true;
      return;
    }
    normalize_row(x, size_t(d), s, buf_.data());  // as IndexTurboQuant::prepare_input
    q = buf_.data();
    s = 1.0;
  }
  // Centering: L2 and cosine score (q − μ) against codes of x − μ (cosine converts the squared-L2 estimate with
  // IndexTurboQuant::cosine_from_centered_l2); IP scores q and adds ⟨q, μ⟩.
  offset_ = 0.0f;
  const std::vector<float>& mu = index_.mean();
  cosine_l2_ = cosine && !mu.empty() && index_.ranks_as_l2();  // folded rows: the IP form
  if (!mu.empty()) {
    if (l2_ || cosine_l2_) {
      s = 0;
      for (int j = 0; j < d; ++j) {
        buf_[j] = q[j] - mu[size_t(j)];
        s += double(buf_[j]) * buf_[j];
      }
      q = buf_.data();
    } else {
      offset_ = index_.mean_dot(q);
    }
  }
  try {
    query_ = tq_.prepare_query(q);
  } catch (...) {
    return;  // called inside FAISS's OpenMP regions: never throw from here
  }
  query_norm2_ = float(s);
  valid_query_ = true;
  if (uniform_bits_ > 0) {
    // One 256-entry table per code byte: the byte holds 8/b coordinates (LSB first), all on one codebook.
    const int b = uniform_bits_, per = 8 / b;
    const size_t nbytes = tq_.mse_bytes();
    const unsigned mask = (1u << b) - 1;
    byte_lut_.assign(nbytes * 256, 0.0f);
    const float* qr = query_.rotated.data();
    for (size_t byte = 0; byte < nbytes; ++byte) {
      float* t = byte_lut_.data() + byte * 256;
      for (unsigned v = 0; v < 256; ++v) {
        float acc = 0;
        for (int c = 0; c < per; ++c) {
          const size_t j = byte * size_t(per) + size_t(c);
          if (j < size_t(d)) acc += qr[j] * centroids_low_[(v >> (c * b)) & mask];
        }
        t[v] = acc;
      }
    }
  }
}

float TurboQuantDistanceComputer::dot_rotated(const uint8_t* code) const {
  if (uniform_bits_ == 0) return tq_.dot_rotated(query_, code);
  const size_t nbytes = tq_.mse_bytes();
  const float* t = byte_lut_.data();
  float acc = 0;
  for (size_t byte = 0; byte < nbytes; ++byte) acc += t[byte * 256 + code[byte]];
  return acc;
}

void TurboQuantDistanceComputer::unpack(const uint8_t* code) {
  if (uniform_bits_ == 0) {
    tq_.unpack_indices(code, idx_.data());
    return;
  }
  const int b = uniform_bits_, d = index_.d;
  const unsigned mask = (1u << b) - 1;
  for (int j = 0; j < d; ++j) {
    const int bit = j * b;
    idx_[size_t(j)] = uint8_t((code[bit >> 3] >> (bit & 7)) & mask);
  }
}

float TurboQuantDistanceComputer::distance_to_code(const uint8_t* code) {
  if (!valid_query_) return l2_ ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  if (zero_query_) return 0.0f;
  const VectorFactors f = tq_.factors(code);
  const float dot = dot_rotated(code);
  float ip;
  switch (estimator_) {
    case Estimator::kRenorm: ip = f.norm * dot / f.renorm; break;
    case Estimator::kQjl: ip = f.norm * (dot + tq_.qjl_correction(query_, code)); break;
    default: ip = f.norm * dot; break;
  }
  if (!l2_ && !cosine_l2_) return ip + offset_;
  const float l2 = query_norm2_ + f.norm * f.norm - 2.0f * ip;
  return cosine_l2_ ? IndexTurboQuant::cosine_from_centered_l2(l2) : l2;
}

void TurboQuantDistanceComputer::decode_rotated(const uint8_t* code, float* out) {
  const int d = index_.d;
  unpack(code);
  for (int t = 0; t < num_high_; ++t) out[t] = centroids_high_[idx_[t]];
  for (int t = num_high_; t < d; ++t) out[t] = centroids_low_[idx_[t]];
}

float TurboQuantDistanceComputer::symmetric_dis(faiss::Index::idx_t i, faiss::Index::idx_t j) {
  const int d = index_.d;
  const uint8_t* ci = codes + size_t(i) * code_size;
  const uint8_t* cj = codes + size_t(j) * code_size;
  float* a = buf_.data();
  float* b = buf_.data() + d;
  decode_rotated(ci, a);
  decode_rotated(cj, b);
  const float ni = tq_.factors(ci).norm, nj = tq_.factors(cj).norm;
  float acc = 0;
  const std::vector<float>& mr = index_.mean_rotated();
  // Cosine with centering: rows are unit vectors, ⟨x̂i, x̂j⟩ = 1 − ‖(x̂i − μ) − (x̂j − μ)‖²/2 (as search ranks).
  const bool cosine_l2 = index_.metric() == IndexMetric::kCosine && !mr.empty() && index_.ranks_as_l2();
  if (l2_ || cosine_l2) {
    for (int t = 0; t < d; ++t) {
      const float diff = ni * a[t] - nj * b[t];
      acc += diff * diff;
    }
    // Centering cancels in differences.
    return cosine_l2 ? IndexTurboQuant::cosine_from_centered_l2(acc) : acc;
  }
  for (int t = 0; t < d; ++t) acc += a[t] * b[t];
  if (mr.empty()) return ni * nj * acc;
  // Inner product: ⟨x̂i + μ, x̂j + μ⟩ = ⟨x̂i, x̂j⟩ + ⟨x̂i, μ⟩ + ⟨x̂j, μ⟩ + ‖μ‖², all in the rotated domain.
  float ai = 0, bj = 0, mm = 0;
  for (int t = 0; t < d; ++t) {
    ai += a[t] * mr[size_t(t)];
    bj += b[t] * mr[size_t(t)];
    mm += mr[size_t(t)] * mr[size_t(t)];
  }
  return ni * nj * acc + ni * ai + nj * bj + mm;
}

}  // namespace tqsearch::internal
