// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/rotation.h"

#include "quant/dense_rotation.h"
#include "quant/error.h"
#include "quant/hadamard_rotation.h"

namespace tqsearch {

std::unique_ptr<Rotation> make_rotation(int d, const RotationParams& params) {
  switch (params.kind) {
    case RotationKind::kHadamard: return std::make_unique<HadamardRotation>(d, params.seed, params.rounds);
    case RotationKind::kDense: return std::make_unique<DenseRotation>(d, params.seed);
  }
  TQ_THROW("make_rotation: unknown rotation kind " << static_cast<uint32_t>(params.kind)
                                                   << " (allowed: 1 = Hadamard, 2 = Dense)");
}

}  // namespace tqsearch
