// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Scalar reference of the FWHT kernels (no -mavx2 here).
#include "quant/internal/fwht.h"

namespace tqsearch::internal {
namespace {
void butterflies(float* v, int p) {
  for (int h = 1; h < p; h *= 2) {
    for (int i = 0; i < p; i += 2 * h) {
      for (int j = i; j < i + h; ++j) {
        const float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
}
}  // namespace

void fwht_scaled_scalar(float* v, const float* s, int p) {
  for (int i = 0; i < p; ++i) v[i] *= s[i];
  butterflies(v, p);
}

void ifwht_scaled_scalar(float* v, const float* s, int p) {
  butterflies(v, p);
  for (int i = 0; i < p; ++i) v[i] *= s[i];
}

}  // namespace tqsearch::internal
