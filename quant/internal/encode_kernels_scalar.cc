// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Scalar reference of the encode sums (no -mavx2 here).
#include "quant/internal/encode_kernels.h"

#include <cmath>

namespace tqsearch::internal {

void sum_squares_rows_scalar(const float* x, size_t stride, int d, int m, double* out) {
  for (int v = 0; v < m; ++v) {
    const float* r = x + size_t(v) * stride;
    double s4[4] = {0, 0, 0, 0};
    int j = 0;
    for (; j + 4 <= d; j += 4)
      for (int u = 0; u < 4; ++u) s4[u] += double(r[j + u]) * r[j + u];
    for (; j < d; ++j) s4[0] += double(r[j]) * r[j];
    out[v] = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  }
}

void rho_rows4_scalar(const RhoArgs& a, double* out) {
  // Four chains interleave (each still sequential over j), so the latency of each double add is hidden.
  const float* y0 = a.y;
  const float *y1 = y0 + a.d, *y2 = y1 + a.d, *y3 = y2 + a.d;
  double r0 = 0, r1 = 0, r2 = 0, r3 = 0;
  if (a.sign_c > 0) {
    const double c = a.sign_c;
    for (int j = 0; j < a.d; ++j) {
      r0 += double(std::fabs(y0[j])) * c;
      r1 += double(std::fabs(y1[j])) * c;
      r2 += double(std::fabs(y2[j])) * c;
      r3 += double(std::fabs(y3[j])) * c;
    }
  } else {
    const uint8_t* i0 = a.idx;
    const uint8_t *i1 = i0 + a.d, *i2 = i1 + a.d, *i3 = i2 + a.d;
    for (int j = 0; j < a.nh; ++j) {
      r0 += double(y0[j]) * a.ch[i0[j]];
      r1 += double(y1[j]) * a.ch[i1[j]];
      r2 += double(y2[j]) * a.ch[i2[j]];
      r3 += double(y3[j]) * a.ch[i3[j]];
    }
    for (int j = a.nh; j < a.d; ++j) {
      r0 += double(y0[j]) * a.cl[i0[j]];
      r1 += double(y1[j]) * a.cl[i1[j]];
      r2 += double(y2[j]) * a.cl[i2[j]];
      r3 += double(y3[j]) * a.cl[i3[j]];
    }
  }
  out[0] = r0;
  out[1] = r1;
  out[2] = r2;
  out[3] = r3;
}

void quantize_pack_1bit_scalar(float b, const float* y, int n, uint8_t* idx, uint8_t* code) {
  for (int byte = 0; byte < (n + 7) / 8; ++byte) code[byte] = 0;
  for (int j = 0; j < n; ++j) {
    const unsigned bit = y[j] > b ? 1u : 0u;
    if (idx != nullptr) idx[j] = static_cast<uint8_t>(bit);
    code[j >> 3] = static_cast<uint8_t>(code[j >> 3] | (bit << (j & 7)));
  }
}

}  // namespace tqsearch::internal
