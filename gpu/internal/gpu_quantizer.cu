// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/gpu_quantizer.cuh"

#include "gpu/internal/nibble_layout.h"

#include <algorithm>
#include <cmath>

#include "quant/error.h"
#include "quant/hadamard_rotation.h"

namespace tqsearch::gpu::internal {
namespace {

template <typename T>
void upload(DeviceBuffer<T>& buf, const std::vector<T>& host, const char* what) {
  buf.resize(std::max<size_t>(host.size(), 1), what);
  TQ_CUDA_CHECK(cudaMemcpy(buf.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
}

std::vector<float> scaled_signs(const HadamardRotation& rot) {
  const std::vector<float>& s = rot.signs();
  const float inv_sqrt_p = static_cast<float>(1.0 / std::sqrt(double(rot.block_size())));
  std::vector<float> out(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = s[i] * inv_sqrt_p;  // as HadamardRotation's scaled_signs_
  return out;
}

}  // namespace

GpuQuantizer::GpuQuantizer(const TurboQuantizer& tq, int device) : device_(device) {
  const int d = tq.d();
  const TurboQuantizerOptions& o = tq.options();
  const BitAllocation& a = tq.allocation();
  QuantView& v = view_;
  v.d = d;

  // Rotation.
  const auto* had = dynamic_cast<const HadamardRotation*>(&tq.rotation());
  if (had != nullptr) {
    v.p = had->block_size();
    v.rounds = had->rounds();
    upload(rot_signs_, scaled_signs(*had), "rotation signs");
    v.rot_signs = rot_signs_.get();
  }

  // Codebooks.
  v.low_bits = a.low_bits();
  v.high_bits = a.high_bits();
  v.num_high = a.num_high();
  const LloydMaxCodebook& cl = tq.codebook(a.low_bits());
  const LloydMaxCodebook& ch = a.num_high() > 0 ? tq.codebook(a.high_bits()) : cl;
  upload(cent_low_, cl.centroids(), "codebook");
  upload(bound_low_, cl.boundaries(), "codebook");
  upload(cent_high_, ch.centroids(), "codebook");
  upload(bound_high_, ch.boundaries(), "codebook");
  v.cent_low = cent_low_.get();
  v.bound_low = bound_low_.get();
  v.cent_high = cent_high_.get();
  v.bound_high = bound_high_.get();

  // Row code layout (quant/turbo_quantizer.h): [mse][norm (fold: ‖x‖/ρ) f32|f16][ρ f32, unless folded][γ f32][signs].
  v.mse_bytes = static_cast<int>(tq.mse_bytes());
  v.code_size = static_cast<int>(tq.code_size());
  int off = v.mse_bytes;
  v.norm_offset = off;
  v.fp16_norm = o.fp16_norm;
  v.fold = o.fold_renorm;
  off += o.fp16_norm ? 2 : 4;
  if (o.store_renorm && !o.fold_renorm) {
    v.renorm_offset = off;
    off += 4;
  }
  if (o.qjl) {
    v.qjl = true;
    v.gamma_offset = off;
    off += 4;
    v.sign_offset = off;
    off += (d + 7) / 8;
    v.qjl_coef = static_cast<float>(tq.qjl_kappa() / d);
    if (o.qjl_kind == QjlKind::kStructured) {
      // The same sketch rotation TurboQuantizer builds: HadamardRotation(d, qjl_seed, default rounds).
      HadamardRotation sk(d, o.qjl_seed, 0);
      v.qjl_structured = true;
      v.sk_rounds = sk.rounds();
      upload(sk_signs_, scaled_signs(sk), "QJL sketch signs");
      v.sk_signs = sk_signs_.get();
      v.sk_scale = std::sqrt(static_cast<float>(d));
    }
  }
  TQ_CHECK(size_t(off) == tq.code_size(), "GpuQuantizer: row code layout mismatch: computed "
                                              << off << " bytes, TurboQuantizer says " << tq.code_size());

  // Scan layout: one int8 unit for both codebooks.
  const int nlow = 1 << a.low_bits();
  const int nhigh = a.num_high() > 0 ? (1 << a.high_bits()) : 0;
  v.nibble = (a.num_high() == 0) ? a.low_bits() <= 4 : (nhigh + nlow <= 16);
  if (v.nibble) {
    v.dp = (d + 31) / 32 * 32;
    v.chunks = v.dp / 32;
    // Table indices [0, nhigh): high codebook; [nhigh, nhigh + nlow): low codebook (integer rates: nhigh = 0).
    const NibbleTable nt = make_nibble_table(nhigh > 0 ? ch.centroids().data() : nullptr, nhigh,
                                             cl.centroids().data(), nlow);
    v.tscale = nt.tscale;
    for (int t = 0; t < 16; ++t) v.nibble_code[t] = nt.code[t];
    for (int w = 0; w < 2; ++w) {
      uint32_t word = 0;
      for (int b = 0; b < 4; ++b) word |= uint32_t(uint8_t(nt.magnitude[4 * w + b])) << (8 * b);
      v.table_words[w] = word;
    }
  } else {
    float cmax = 0;
    for (float c : cl.centroids()) cmax = std::max(cmax, std::abs(c));
    for (float c : ch.centroids()) cmax = std::max(cmax, std::abs(c));
    v.tscale = cmax / 127.0f;
    auto to_i8 = [&](float c) { return static_cast<int8_t>(std::lround(c / v.tscale)); };
    v.dp = (d + 15) / 16 * 16;
    v.chunks = v.dp / 16;
    std::vector<int8_t> lo(256, 0), hi(256, 0);
    for (int t = 0; t < nlow; ++t) lo[t] = to_i8(cl.centroids()[t]);
    for (int t = 0; t < (1 << a.high_bits()) && a.num_high() > 0; ++t) hi[t] = to_i8(ch.centroids()[t]);
    if (a.num_high() == 0) hi = lo;
    upload(int8_low_, lo, "int8 table");
    upload(int8_high_, hi, "int8 table");
    v.int8_low = int8_low_.get();
    v.int8_high = int8_high_.get();
  }

  // GPU encode: Hadamard Π, structured or no QJL, and the encode kernel's shared memory fits (checked at launch
  // against the device limit; here the static part).
  encode_supported_ = had != nullptr && (!o.qjl || o.qjl_kind == QjlKind::kStructured) && d <= 16384;
}

}  // namespace tqsearch::gpu::internal
