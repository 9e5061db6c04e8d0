// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Element conversions for the vector-file readers: any stored type → float32 or int64, binary16 ↔ float32.

#include <cstddef>
#include <cstdint>

#include "tools/io/element_type.h"

namespace tqsearch::io::internal {

/// IEEE 754 binary16 → float32, exact (subnormals, ±Inf and NaN preserved).
float half_to_float(uint16_t h);
/// float32 → binary16, round to nearest even; overflow → ±Inf, NaN stays NaN.
uint16_t float_to_half(float f);

/// n elements of type t at src → float32 (float64 rounds to nearest; integers convert exactly up to 2^24).
void convert_to_float(ElementType t, const void* src, size_t n, float* dst);
/// n integer elements of type t at src → int64. t must be an integer type.
void convert_to_int64(ElementType t, const void* src, size_t n, int64_t* dst);

/// Index of the first NaN or ±Inf among x[0, n), or n when all are finite.
size_t find_non_finite(const float* x, size_t n);

}  // namespace tqsearch::io::internal
