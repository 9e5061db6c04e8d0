// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file IEEE binary16 conversion (round to nearest even), portable scalar code.
#include <cstdint>

namespace tqsearch::internal {
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
}  // namespace tqsearch::internal
