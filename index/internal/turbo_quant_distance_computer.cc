// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/internal/turbo_quant_distance_computer.h"

#include <cmath>
#include <limits>

#include "quant/error.h"

namespace tqsearch::internal {

TurboQuantDistanceComputer::TurboQuantDistanceComputer(const IndexTurboQuant& index, Estimator estimator)
    : faiss::FlatCodesDistanceComputer(index.codes.data(), index.code_size),
      index_(index),
      tq_(index.quantizer()),
      estimator_(estimator),
      l2_(index.metric() == IndexMetric::kL2),
      buf_(2 * size_t(index.d)) {
  TQ_CHECK(tq_.supports(estimator),
           "distance computer: estimator " << uint32_t(estimator) << " is not available with these codes");
}

void TurboQuantDistanceComputer::set_query(const float* x) {
  const int d = index_.d;
  valid_query_ = false;
  double s = 0;
  for (int j = 0; j < d; ++j) {
    if (!std::isfinite(x[j])) return;
    s += double(x[j]) * x[j];
  }
  const float* q = x;
  if (index_.metric() == IndexMetric::kCosine) {
    const float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.0f;
    for (int j = 0; j < d; ++j) buf_[j] = x[j] * inv;
    q = buf_.data();
    s = s > 0 ? 1.0 : 0.0;
  }
  try {
    query_ = tq_.prepare_query(q);
  } catch (...) {
    return;  // called inside FAISS's OpenMP regions: never throw from here
  }
  query_norm2_ = float(s);
  valid_query_ = true;
}

float TurboQuantDistanceComputer::distance_to_code(const uint8_t* code) {
  if (!valid_query_) return l2_ ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  const float ip = tq_.inner_product(query_, code, estimator_);
  if (!l2_) return ip;
  const float xn = tq_.factors(code).norm;
  return query_norm2_ + xn * xn - 2.0f * ip;
}

float TurboQuantDistanceComputer::symmetric_dis(faiss::Index::idx_t i, faiss::Index::idx_t j) {
  const int d = index_.d;
  float* a = buf_.data();
  float* b = buf_.data() + d;
  tq_.decode(1, codes + size_t(i) * code_size, a);
  tq_.decode(1, codes + size_t(j) * code_size, b);
  double acc = 0;
  if (l2_) {
    for (int t = 0; t < d; ++t) {
      const double diff = double(a[t]) - b[t];
      acc += diff * diff;
    }
  } else {
    for (int t = 0; t < d; ++t) acc += double(a[t]) * b[t];
  }
  return float(acc);
}

}  // namespace tqsearch::internal
