// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Record "TqFl" (IndexTurboQuant), format version 4:
//   section header: i32 d, u32 metric, f64 bits, u32 rotation kind, u64 rotation seed, i32 rotation rounds,
//                   u8 fp16_norm, u8 store_renorm, u8 qjl, u32 qjl_kind, u64 qjl_seed,
//                   u32 estimator, i32 rerank_factor, i32 rerank_min, f32 qjl_prune_z, i32 query_batch,
//                   u64 code_size, i64 ntotal,
//                   [v2] u8 optimize_cosine, u8 center, u8 has_mean
//                   [v3] i32 scan_bits, f32 prefix_z, i32 lut_max, f32 lut_z
//                   [v4] u8 fold_renorm
//   [v2, has_mean] section mean: d float32 (μ, centering)
//   section codes:  ntotal·code_size bytes (row layout of TurboQuantizer)
// Version 1 (read only) ends the header at ntotal and has no mean section: optimize_cosine = center = false.
// Versions 1 and 2 (read only) have no v3 fields: the recommended scan layout and the default prefix_z, lut_max
// and lut_z. Versions 1..3 (read only) have no fold_renorm (false).
#include <cmath>
#include <cstring>
#include <limits>

#include "index/index_turbo_quant.h"
#include "index/internal/index_io_registry.h"
#include "quant/error.h"

namespace tqsearch::internal {

namespace {
constexpr uint64_t kMaxHeaderBytes = 4096;
constexpr int64_t kMaxRows = int64_t(1) << 40;
constexpr int kMaxRotationRounds = 64;
}  // namespace

void write_turbo_quant(const faiss::Index& index, StreamWriter& out) {
  const auto& tq = dynamic_cast<const IndexTurboQuant&>(index);
  const IndexTurboQuantOptions& o = tq.options();
  ByteSink h;
  h.put_i32(int32_t(tq.d));
  h.put_u32(uint32_t(tq.metric()));
  h.put_f64(o.quantizer.bits);
  h.put_u32(uint32_t(o.quantizer.rotation.kind));
  h.put_u64(o.quantizer.rotation.seed);
  h.put_i32(o.quantizer.rotation.rounds);
  h.put_u8(o.quantizer.fp16_norm);
  h.put_u8(o.quantizer.store_renorm);
  h.put_u8(o.quantizer.qjl);
  h.put_u32(uint32_t(o.quantizer.qjl_kind));
  h.put_u64(o.quantizer.qjl_seed);
  h.put_u32(uint32_t(o.search.estimator));
  h.put_i32(o.search.rerank_factor);
  h.put_i32(o.search.rerank_min);
  h.put_f32(o.search.qjl_prune_z);
  h.put_i32(o.search.query_batch);
  h.put_u64(tq.code_size);
  h.put_i64(tq.ntotal);
  h.put_u8(o.quantizer.optimize_cosine);
  h.put_u8(o.center);
  const bool has_mean = !tq.mean().empty();
  h.put_u8(has_mean);
  h.put_i32(o.scan_bits);
  h.put_f32(o.search.prefix_z);
  h.put_i32(o.search.lut_max);
  h.put_f32(o.search.lut_z);
  h.put_u8(o.quantizer.fold_renorm);
  out.write_section(h);
  if (has_mean) {
    out.write_section(reinterpret_cast<const uint8_t*>(tq.mean().data()), tq.mean().size() * sizeof(float));
  }
  TQ_CHECK(tq.codes.size() == size_t(tq.ntotal) * tq.code_size,
           "write_index: IndexTurboQuant codes hold " << tq.codes.size() << " bytes, expected ntotal·code_size");
  out.write_section(tq.codes.data(), tq.codes.size());
}

std::unique_ptr<faiss::Index> read_turbo_quant(StreamReader& in, uint32_t version, int /*depth*/) {
  const std::vector<uint8_t> hb = in.read_section("IndexTurboQuant header", kMaxHeaderBytes);
  ByteSource h(hb, "IndexTurboQuant header");
  const int32_t d = h.get_i32();
  TQ_CHECK(d >= 1 && d <= 65536, "read_index: corrupt file: IndexTurboQuant dimension " << d
                                                                                        << " (allowed 1..65536)");
  const uint32_t metric = h.get_u32();
  TQ_CHECK(metric <= 2, "read_index: corrupt file: IndexTurboQuant metric " << metric
                                                                            << " (allowed 0 ip, 1 l2, 2 cosine)");
  IndexTurboQuantOptions o;
  o.quantizer.bits = h.get_f64();
  TQ_CHECK(std::isfinite(o.quantizer.bits) && o.quantizer.bits >= 1 && o.quantizer.bits <= 8,
           "read_index: corrupt file: IndexTurboQuant bits " << o.quantizer.bits << " (allowed 1..8)");
  const uint32_t rot_kind = h.get_u32();
  TQ_CHECK(rot_kind == uint32_t(RotationKind::kHadamard) || rot_kind == uint32_t(RotationKind::kDense),
           "read_index: corrupt file: rotation kind " << rot_kind << " (allowed 1 hadamard, 2 dense)");
  o.quantizer.rotation.kind = RotationKind(rot_kind);
  o.quantizer.rotation.seed = h.get_u64();
  o.quantizer.rotation.rounds = h.get_i32();
  TQ_CHECK(o.quantizer.rotation.rounds >= 0 && o.quantizer.rotation.rounds <= kMaxRotationRounds,
           "read_index: corrupt file: rotation rounds " << o.quantizer.rotation.rounds << " (allowed 0.."
                                                        << kMaxRotationRounds << ")");
  o.quantizer.fp16_norm = h.get_bool();
  o.quantizer.store_renorm = h.get_bool();
  o.quantizer.qjl = h.get_bool();
  const uint32_t qjl_kind = h.get_u32();
  TQ_CHECK(qjl_kind == uint32_t(QjlKind::kStructured) || qjl_kind == uint32_t(QjlKind::kGaussian),
           "read_index: corrupt file: QJL kind " << qjl_kind << " (allowed 1 structured, 2 gaussian)");
  o.quantizer.qjl_kind = QjlKind(qjl_kind);
  o.quantizer.qjl_seed = h.get_u64();
  const uint32_t est = h.get_u32();
  TQ_CHECK(est <= 2, "read_index: corrupt file: estimator " << est << " (allowed 0 mse, 1 renorm, 2 qjl)");
  o.search.estimator = Estimator(est);
  o.search.rerank_factor = h.get_i32();
  o.search.rerank_min = h.get_i32();
  o.search.qjl_prune_z = h.get_f32();
  o.search.query_batch = h.get_i32();
  const uint64_t code_size = h.get_u64();
  const int64_t ntotal = h.get_i64();
  bool has_mean = false;
  if (version >= 2) {
    o.quantizer.optimize_cosine = h.get_bool();
    o.center = h.get_bool();
    has_mean = h.get_bool();
    TQ_CHECK(!has_mean || o.center, "read_index: corrupt file: IndexTurboQuant stores a mean but centering is off");
    TQ_CHECK(!o.center || has_mean || ntotal == 0,
             "read_index: corrupt file: centered IndexTurboQuant holds " << ntotal << " vectors but no mean");
  }
  if (version >= 3) {  // validated with the other options by the constructor below
    o.scan_bits = h.get_i32();
    o.search.prefix_z = h.get_f32();
    o.search.lut_max = h.get_i32();
    o.search.lut_z = h.get_f32();
  }
  if (version >= 4) o.quantizer.fold_renorm = h.get_bool();
  h.expect_end();
  TQ_CHECK(ntotal >= 0 && ntotal <= kMaxRows,
           "read_index: corrupt file: IndexTurboQuant ntotal " << ntotal << " (allowed 0.." << kMaxRows << ")");

  std::unique_ptr<IndexTurboQuant> index;
  try {
    index = std::make_unique<IndexTurboQuant>(d, IndexMetric(metric), o);
  } catch (const Error& ex) {
    TQ_THROW("read_index: corrupt file: IndexTurboQuant options are invalid: " << ex.what());
  }
  TQ_CHECK(code_size == index->code_size, "read_index: corrupt file: IndexTurboQuant code_size "
                                              << code_size << " does not match its options (" << index->code_size
                                              << ")");
  if (has_mean) {
    const uint64_t mean_bytes = uint64_t(d) * sizeof(float);
    const std::vector<uint8_t> mb = in.read_section("IndexTurboQuant mean", mean_bytes, mean_bytes);
    std::vector<float> mean(static_cast<size_t>(d), 0.0f);
    std::memcpy(mean.data(), mb.data(), mean_bytes);
    try {
      index->set_mean(mean.data());
    } catch (const Error& ex) {
      TQ_THROW("read_index: corrupt file: " << ex.what());
    }
  }
  const uint64_t bytes = uint64_t(ntotal) * code_size;  // < 2^40 · 2^19: no overflow
  const std::vector<uint8_t> codes = in.read_section("IndexTurboQuant codes", bytes, bytes);
  try {
    index->add_sa_codes(ntotal, codes.data());
  } catch (const Error& ex) {
    TQ_THROW("read_index: corrupt file: " << ex.what());
  }
  return index;
}

}  // namespace tqsearch::internal
