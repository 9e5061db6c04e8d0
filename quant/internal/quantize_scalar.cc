// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/internal/quantize.h"

namespace tqsearch::internal {

void quantize_scalar(const float* bnd, int nb, const float* y, int n, uint8_t* idx) {
  // Branch-free binary search: nb + 1 = 2^bits cells.
  for (int j = 0; j < n; ++j) {
    int lo = 0;
    for (int step = (nb + 1) / 2; step >= 1; step /= 2) lo += (y[j] > bnd[lo + step - 1]) ? step : 0;
    idx[j] = static_cast<uint8_t>(lo);
  }
}

}  // namespace tqsearch::internal
