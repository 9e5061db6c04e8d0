// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/gpu_index_turbo_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <exception>
#include <thread>

#include "gpu/gpu_device.h"
#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_buffer.cuh"
#include "gpu/internal/encode_kernels.cuh"
#include "gpu/internal/refine_kernels.cuh"
#include "gpu/internal/rerank_kernels.cuh"
#include "gpu/internal/scan_kernels.cuh"
#include "gpu/internal/select_kernels.cuh"
#include "gpu/internal/shard.cuh"
#include "quant/error.h"

namespace tqsearch::gpu {
namespace internal {

Shard::Shard(const TurboQuantizer& tq, int dev) : device(dev) {
  DeviceScope scope(device);
  TQ_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  TQ_CUBLAS_CHECK(cublasCreate(&cublas));
  TQ_CUBLAS_CHECK(cublasSetStream(cublas, stream));
  gq = std::make_unique<GpuQuantizer>(tq, device);
  flag.resize(1, "flag");
  flag_range.resize(1, "flag");
}

Shard::~Shard() {
  int prev = -1;
  cudaGetDevice(&prev);
  cudaSetDevice(device);
  if (stream) cudaStreamSynchronize(stream);
  // Free every buffer while this shard's device is current.
  codes.reset();
  tiles.reset();
  f_norm.reset();
  f_renorm.reset();
  f_sqnorm.reset();
  raw.reset();
  xbuf.reset();
  flag.reset();
  flag_range.reset();
  queries.reset();
  rotated.reset();
  qnorm.reset();
  qscale.reset();
  sketch.reset();
  q8.reset();
  qsum.reset();
  dequant8.reset();
  scores32.reset();
  cand.reset();
  merged.reset();
  reranked.reset();
  result.reset();
  gq.reset();
  for (cudaEvent_t& e : events)
    if (e) cudaEventDestroy(e);
  if (cublas) cublasDestroy(cublas);
  if (stream) cudaStreamDestroy(stream);
  if (prev >= 0) cudaSetDevice(prev);
}

FusedScanPlan Shard::plan(size_t n, int nq, int K) {
  for (const PlanEntry& e : plans)
    if (e.n == n && e.nq == nq && e.K == K) return e.plan;
  const FusedScanPlan p = plan_fused_scan(gq->view(), n, nq, K);
  if (plans.size() >= 16) plans.erase(plans.begin());
  plans.push_back({n, nq, K, p});
  return p;
}

void Shard::create_events() {
  for (cudaEvent_t& e : events)
    if (!e) TQ_CUDA_CHECK(cudaEventCreate(&e));
}

void Shard::reserve(size_t n) {
  if (n <= capacity) return;
  size_t cap = std::max(n, capacity + capacity / 2);
  cap = (cap + kTile - 1) / kTile * kTile;
  const QuantView& q = gq->view();
  codes.grow_keep(cap * q.code_size, size * q.code_size, stream, "row codes");
  const size_t tile_elems = size_t(q.chunks) * kTile;  // uint4 per tile
  const size_t old_tiles = (size + kTile - 1) / kTile;
  tiles.grow_keep(cap / kTile * tile_elems, old_tiles * tile_elems, stream, "scan tiles");
  TQ_CUDA_CHECK(cudaMemsetAsync(tiles.get() + old_tiles * tile_elems, 0,
                                (cap / kTile - old_tiles) * tile_elems * sizeof(uint4), stream));
  f_norm.grow_keep(cap, size, stream, "norms");
  f_renorm.grow_keep(cap, size, stream, "renorm factors");
  f_sqnorm.grow_keep(cap, size, stream, "squared norms");
  // The scan loads one factor per lane of a whole tile, past the last vector of a partial tile: keep that tail
  // defined (masked out of the scores).
  for (DeviceBuffer<float>* f : {&f_norm, &f_renorm, &f_sqnorm})
    TQ_CUDA_CHECK(cudaMemsetAsync(f->get() + size, 0, (cap - size) * sizeof(float), stream));
  if (raw_row_bytes > 0) raw.grow_keep(cap * raw_row_bytes, size * raw_row_bytes, stream, "raw vectors for refine");
  capacity = cap;
  TQ_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace internal

using internal::Cand;
using internal::DeviceScope;
using internal::Shard;

namespace {

constexpr int kMaxK = 1024;
constexpr size_t kQueryChunk = 4096;  // queries per device pass (bounds the workspace)
constexpr size_t kStagedBytes = size_t(1) << 20;  // transfers up to this size go through pinned staging

/// The encode kernel flags a row whose norm overflows float or whose stored norm slot would be Inf (one flag for
/// both): the message names what the options make possible.
const char* norm_overflow_reason(const TurboQuantizerOptions& o) {
  if (!o.fp16_norm) return " has a norm that overflows float; scale the vectors down";
  return o.fold_renorm ? " has a norm above FLT_MAX, or a scale ‖x‖/ρ above the float16 maximum 65504 of its slot; "
                         "scale the vectors down or turn off fp16_norm"
                       : " has a norm above the float16 maximum 65504 of its slot (or above FLT_MAX); scale the "
                         "vectors down or turn off fp16_norm";
}

void check_finite_host(size_t n, int d, const float* x, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    const float* row = x + i * size_t(d);
    for (int j = 0; j < d; ++j) {
      TQ_CHECK(std::isfinite(row[j]), what << ": row " << i << " has a non-finite value (" << row[j] << ") at column "
                                           << j << "; only finite floats are allowed");
    }
  }
}

/// Runs f(shard index) for every shard, one host thread per shard when there are several; rethrows the first
/// error after all have finished.
template <typename F>
void for_each_shard(size_t count, F&& f) {
  if (count == 1) {
    f(size_t(0));
    return;
  }
  std::vector<std::exception_ptr> errors(count);
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (size_t s = 0; s < count; ++s) {
    threads.emplace_back([&, s] {
      try {
        f(s);
      } catch (...) {
        errors[s] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

struct GpuIndexTurboQuant::Impl {
  int d = 0;
  Metric metric = Metric::kInnerProduct;
  GpuIndexConfig config;
  std::unique_ptr<TurboQuantizer> tq;
  std::vector<std::unique_ptr<Shard>> shards;
  struct Segment {
    int shard;
    size_t local;
    size_t global;
    size_t count;
  };
  std::vector<Segment> segments;                // global order
  std::vector<std::vector<Segment>> per_shard;  // per shard, local order
  size_t ntotal = 0;

  bool gpu_encode() const { return shards[0]->gq->encode_supported(); }

  /// Rows [a, b) of the input go to shard s.
  std::pair<size_t, size_t> split(size_t n, size_t s) const {
    const size_t S = shards.size();
    return {n * s / S, n * (s + 1) / S};
  }

  /// Encode `count` rows from device memory `x` (on the shard's device) into the shard at position `at`.
  void encode_rows(Shard& sh, const float* x, size_t count, size_t at) {
    const internal::QuantView& q = sh.gq->view();
    internal::EncodeTarget t;
    t.row_codes = sh.codes.get() + at * q.code_size;
    t.scan_tiles = sh.tiles.get();
    t.norm = sh.f_norm.get();
    t.renorm = sh.f_renorm.get();
    t.sqnorm = sh.f_sqnorm.get();
    t.first = at;
    t.bad_norm_row = sh.flag.get();
    internal::launch_encode(q, x, count, t, sh.stream);
  }

  void reset_flag(Shard& sh) {
    const unsigned long long init[1] = {~0ull};
    TQ_CUDA_CHECK(cudaMemcpyAsync(sh.flag.get(), init, sizeof(init), cudaMemcpyHostToDevice, sh.stream));
    TQ_CUDA_CHECK(cudaMemcpyAsync(sh.flag_range.get(), init, sizeof(init), cudaMemcpyHostToDevice, sh.stream));
    TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));  // `init` lives on this stack frame
  }
  /// Shard-local row whose norm overflowed, or −1. Synchronizes.
  int64_t read_flag(Shard& sh) { return read_one_flag(sh, sh.flag.get()); }
  /// Row (relative to the store_raw calls' first rows) outside the fp16 range, or −1. Synchronizes.
  int64_t read_range_flag(Shard& sh) { return read_one_flag(sh, sh.flag_range.get()); }
  int64_t read_one_flag(Shard& sh, unsigned long long* f) {
    unsigned long long v = 0;
    TQ_CUDA_CHECK(cudaMemcpyAsync(&v, f, sizeof(v), cudaMemcpyDeviceToHost, sh.stream));
    TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
    return v == ~0ull ? -1 : static_cast<int64_t>(v);
  }

  bool keeps_raw() const { return config.refine != RefineStorage::kNone; }
  /// Raw rows x (device, on the shard's device) → the shard's refine storage at shard-local row `at`. A row
  /// outside the fp16 range sets flag_range (atomicMin) to row_base + its index in x.
  void store_raw(Shard& sh, const float* x, size_t count, size_t at, size_t row_base) {
    if (sh.raw_row_bytes == 0) return;
    internal::launch_store_raw(x, count, d, sh.raw_fp16, sh.raw.get() + at * sh.raw_row_bytes, sh.flag_range.get(),
                               row_base, sh.stream);
  }

  void commit(const std::vector<std::pair<size_t, size_t>>& parts) {
    const size_t base = ntotal;
    for (size_t s = 0; s < shards.size(); ++s) {
      const size_t cnt = parts[s].second - parts[s].first;
      if (cnt == 0) continue;
      segments.push_back({static_cast<int>(s), shards[s]->size, base + parts[s].first, cnt});
      per_shard[s].push_back(segments.back());
      shards[s]->size += cnt;
    }
    ntotal = base + (parts.empty() ? 0 : parts.back().second);
  }

  /// Host (or device, when src_device >= 0) rows → every shard, encoded on the GPU.
  void add_gpu(size_t n, const float* x, int src_device) {
    std::vector<std::pair<size_t, size_t>> parts(shards.size());
    for (size_t s = 0; s < shards.size(); ++s) parts[s] = split(n, s);
    for_each_shard(shards.size(), [&](size_t s) {
      Shard& sh = *shards[s];
      const size_t a = parts[s].first, b = parts[s].second;
      if (a == b) return;
      DeviceScope scope(sh.device);
      TQ_CHECK(sh.size + (b - a) < size_t(INT32_MAX),
               "GpuIndexTurboQuant: a shard holds at most " << INT32_MAX << " vectors");
      sh.reserve(sh.size + (b - a));
      reset_flag(sh);
      const size_t batch = std::max<size_t>(1, config.add_batch);
      const bool direct = src_device == sh.device;
      if (!direct) sh.xbuf.resize(std::min(batch, b - a) * d, "encode input");
      for (size_t r = a; r < b; r += batch) {
        const size_t cnt = std::min(batch, b - r);
        const float* src = x + r * size_t(d);
        const float* dx = src;
        if (!direct) {
          if (src_device < 0) {
            TQ_CUDA_CHECK(cudaMemcpyAsync(sh.xbuf.get(), src, cnt * d * sizeof(float), cudaMemcpyHostToDevice,
                                          sh.stream));
          } else {
            TQ_CUDA_CHECK(cudaMemcpyPeerAsync(sh.xbuf.get(), sh.device, src, src_device, cnt * d * sizeof(float),
                                              sh.stream));
          }
          dx = sh.xbuf.get();
        }
        encode_rows(sh, dx, cnt, sh.size + (r - a));
        store_raw(sh, dx, cnt, sh.size + (r - a), r);
      }
      const int64_t bad = read_flag(sh);
      TQ_CHECK(bad < 0, "GpuIndexTurboQuant::add: row " << (a + size_t(bad) - sh.size)
                                                        << norm_overflow_reason(tq->options()));
      const int64_t big = read_range_flag(sh);
      TQ_CHECK(big < 0, "GpuIndexTurboQuant::add: row " << big
                                                        << " has a value outside the fp16 range (|x| > 65504) of the "
                                                           "refine storage; use RefineStorage::kFp32");
    });
    commit(parts);
  }

  /// `vectors` (host, (n, d)): required when the index keeps raw vectors.
  void add_codes_impl(size_t n, const uint8_t* codes, const float* vectors) {
    const size_t cs = tq->code_size();
    std::vector<std::pair<size_t, size_t>> parts(shards.size());
    for (size_t s = 0; s < shards.size(); ++s) parts[s] = split(n, s);
    for_each_shard(shards.size(), [&](size_t s) {
      Shard& sh = *shards[s];
      const size_t a = parts[s].first, b = parts[s].second;
      if (a == b) return;
      DeviceScope scope(sh.device);
      TQ_CHECK(sh.size + (b - a) < size_t(INT32_MAX),
               "GpuIndexTurboQuant: a shard holds at most " << INT32_MAX << " vectors");
      sh.reserve(sh.size + (b - a));
      uint8_t* dst = sh.codes.get() + sh.size * cs;
      TQ_CUDA_CHECK(cudaMemcpyAsync(dst, codes + a * cs, (b - a) * cs, cudaMemcpyHostToDevice, sh.stream));
      internal::EncodeTarget t;
      t.row_codes = dst;
      t.scan_tiles = sh.tiles.get();
      t.norm = sh.f_norm.get();
    t.renorm = sh.f_renorm.get();
    t.sqnorm = sh.f_sqnorm.get();
      t.first = sh.size;
      internal::launch_layout_from_codes(sh.gq->view(), dst, b - a, t, sh.stream);
      if (sh.raw_row_bytes > 0) {
        reset_flag(sh);
        const size_t batch = std::max<size_t>(1, config.add_batch);
        sh.xbuf.resize(std::min(batch, b - a) * d, "refine input");
        for (size_t r = a; r < b; r += batch) {
          const size_t cnt = std::min(batch, b - r);
          TQ_CUDA_CHECK(cudaMemcpyAsync(sh.xbuf.get(), vectors + r * size_t(d), cnt * d * sizeof(float),
                                        cudaMemcpyHostToDevice, sh.stream));
          store_raw(sh, sh.xbuf.get(), cnt, sh.size + (r - a), r);
        }
        const int64_t big = read_range_flag(sh);
        TQ_CHECK(big < 0, "GpuIndexTurboQuant::add_codes: row " << big
                                                                 << " has a value outside the fp16 range (|x| > 65504) "
                                                                    "of the refine storage; use RefineStorage::kFp32");
      }
      TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
    });
    commit(parts);
  }

  /// Search nq ≤ kQueryChunk queries on one shard: ranking scores and shard-local ids (nq, k), and ‖q‖.
  /// kr > 0: exact refine of the TQ stage's best kr (refine scores: ⟨q, x⟩ or −‖q − x‖²).
  void search_shard(Shard& sh, size_t nq, const float* queries, int k, int kc, int kr, const GpuSearchParams& p,
                    const std::vector<float>* host_sketch, std::vector<Cand>& out, std::vector<float>& qnorm,
                    GpuSearchStats& st) {
    DeviceScope scope(sh.device);
    const internal::QuantView& q = sh.gq->view();
    const size_t n = sh.size;
    out.assign(nq * size_t(k), Cand{-FLT_MAX, -1});
    qnorm.assign(nq, 0.0f);
    const int kcs = static_cast<int>(std::min<size_t>(kc, n));
    // Automatic: the GEMM path for large batches at large d, and whenever a fused scan block would not fit the
    // device's shared memory (d beyond ~14k).
    const bool use_gemm = p.gemm_min_batch > 0   ? nq >= size_t(p.gemm_min_batch)
                          : p.gemm_min_batch < 0 ? ((nq >= 128 && q.dp >= 512) || !internal::fused_scan_fits(q, kcs))
                                                 : false;
    const bool want_sketch = p.estimator == Estimator::kQjl && p.rerank_factor > 0;
    sh.queries.resize(nq * d, "queries");
    sh.rotated.resize(nq * d, "rotated queries");
    sh.qnorm.resize(nq, "query norms");
    sh.qscale.resize(nq, "query scales");
    sh.q8.resize(nq * q.dp, "int8 queries");
    sh.qsum.resize(nq, "int8 query sums");
    if (want_sketch) sh.sketch.resize(nq * d, "query sketches");
    // Small batches (the latency case) copy through page-locked staging: both directions stay asynchronous and the
    // host waits once, at the end. Large ones copy from and to the caller's memory (the driver pipelines those).
    const bool staged = nq * d * sizeof(float) <= kStagedBytes && nq * size_t(k) * sizeof(Cand) <= kStagedBytes;
    if (staged) {
      sh.h_queries.resize(kStagedBytes / sizeof(float), "query staging");  // one size: no re-allocation later
      std::memcpy(sh.h_queries.get(), queries, nq * d * sizeof(float));
      TQ_CUDA_CHECK(cudaMemcpyAsync(sh.queries.get(), sh.h_queries.get(), nq * d * sizeof(float),
                                    cudaMemcpyHostToDevice, sh.stream));
    } else {
      TQ_CUDA_CHECK(
          cudaMemcpyAsync(sh.queries.get(), queries, nq * d * sizeof(float), cudaMemcpyHostToDevice, sh.stream));
    }
    float* sketch_out = (want_sketch && q.qjl_structured) ? sh.sketch.get() : nullptr;
    const bool timed = p.collect_timings;
    if (timed) sh.create_events();
    auto mark = [&](int i) {
      if (timed) TQ_CUDA_CHECK(cudaEventRecord(sh.events[i], sh.stream));
    };
    if (timed) TQ_CUDA_CHECK(cudaEventRecord(sh.events[4], sh.stream));
    internal::launch_prepare_queries(q, sh.queries.get(), nq, sh.rotated.get(), sh.qnorm.get(), sh.q8.get(),
                                     sh.qscale.get(), sh.qsum.get(), sketch_out, sh.stream);
    mark(0);
    if (want_sketch && !q.qjl_structured) {
      TQ_CUDA_CHECK(cudaMemcpyAsync(sh.sketch.get(), host_sketch->data(), nq * d * sizeof(float),
                                    cudaMemcpyHostToDevice, sh.stream));
    }
    if (n > 0) {
      if (use_gemm) {
        // Int8 GEMM: the scan layout's int8 values × the int8 queries with int32 accumulation are the fused
        // scan's integer dot products exactly, so both paths rank with identical scores. Tile of vectors: int8 rows
        // ≤ 512 MiB, int32 scores ≤ 2 GiB; rows padded to whole tiles (cuBLAS int8 wants m % 4 == 0).
        size_t tv = std::min<size_t>((size_t(512) << 20) / size_t(q.dp), (size_t(2) << 30) / (nq * 4));
        tv = std::max<size_t>(32, tv / 32 * 32);
        tv = std::min(tv, (n + 31) / 32 * 32);
        const size_t ntv = (n + tv - 1) / tv;
        int dev_sms = 0;
        TQ_CUDA_CHECK(cudaDeviceGetAttribute(&dev_sms, cudaDevAttrMultiProcessorCount, sh.device));
        int seg = static_cast<int>(std::max<size_t>(1, (size_t(dev_sms) * 4 + nq - 1) / nq));
        seg = static_cast<int>(std::min<size_t>(seg, std::max<size_t>(1, tv / 4096)));
        const int lists = static_cast<int>(ntv) * seg;
        sh.dequant8.resize(tv * q.dp, "dequantized tile");
        sh.scores32.resize(tv * nq, "GEMM scores");
        sh.cand.resize(nq * size_t(lists) * kcs, "candidates");
        const int32_t alpha = 1, beta = 0;
        internal::ScoreTransform tf;
        tf.row_scale = sh.qscale.get();
        tf.scale_mult = q.tscale;
        if (q.nibble) {  // values stand for (v + ½)·tscale: score ∝ (2·Σ q8·v + Σ q8)·tscale/2
          tf.row_offset = sh.qsum.get();
          tf.scale_mult = 0.5f * q.tscale;
        }
        tf.factor = p.estimator == Estimator::kRenorm ? sh.f_renorm.get() : sh.f_norm.get();
        tf.sqnorm = sh.f_sqnorm.get();
        tf.l2 = metric == Metric::kL2;
        for (size_t t = 0; t < ntv; ++t) {
          const size_t v0 = t * tv, cnt = std::min(tv, n - v0), rows = (cnt + 31) / 32 * 32;
          internal::launch_dequant_int8(q, sh.tiles.get(), v0, rows, sh.dequant8.get(), sh.stream);
          TQ_CUBLAS_CHECK(cublasGemmEx(sh.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows),
                                       static_cast<int>(nq), q.dp, &alpha, sh.dequant8.get(), CUDA_R_8I, q.dp,
                                       sh.q8.get(), CUDA_R_8I, q.dp, &beta, sh.scores32.get(), CUDA_R_32I,
                                       static_cast<int>(rows), CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT));
          internal::launch_select_scores<int32_t>(sh.scores32.get(), rows, cnt, static_cast<int>(nq), int64_t(v0), tf,
                                                  kcs, seg, sh.cand.get(), lists, static_cast<int>(t) * seg,
                                                  sh.stream);
        }
        mark(1);
        merge(sh, nq, lists, kcs);
        st.used_gemm = true;
      } else {
        const internal::FusedScanPlan plan = sh.plan(n, static_cast<int>(std::min<size_t>(nq, 32)), kcs);
        sh.cand.resize(nq * size_t(plan.blocks) * kcs, "candidates");
        for (size_t q0 = 0; q0 < nq; q0 += plan.batch) {
          internal::FusedScanArgs a;
          a.tiles = sh.tiles.get();
          a.n = n;
          a.q8 = sh.q8.get() + q0 * q.dp;
          a.qscale = sh.qscale.get() + q0;
          a.qsum = sh.qsum.get() + q0;
          a.factor = p.estimator == Estimator::kRenorm ? sh.f_renorm.get() : sh.f_norm.get();
          a.sqnorm = sh.f_sqnorm.get();
          a.l2 = metric == Metric::kL2;
          a.nq = static_cast<int>(std::min<size_t>(plan.batch, nq - q0));
          a.K = kcs;
          internal::launch_fused_scan(q, plan, a, sh.cand.get() + q0 * plan.blocks * kcs, sh.stream);
        }
        mark(1);
        merge(sh, nq, plan.blocks, kcs);
      }
      internal::RerankArgs ra;
      ra.row_codes = sh.codes.get();
      ra.rotated = sh.rotated.get();
      ra.sketch = want_sketch ? sh.sketch.get() : nullptr;
      ra.estimator = static_cast<int>(p.estimator);
      ra.l2 = metric == Metric::kL2;
      ra.rerank = p.rerank_factor > 0;
      mark(2);
      sh.result.resize(nq * size_t(k), "results");
      if (kr > 0 && sh.raw_row_bytes > 0) {
        const int krs = std::min(kr, kcs);
        // The merged scan candidates are sorted best first: without a rerank, refine their first krs directly.
        const Cand* cands = sh.merged.get();
        int ld = kcs;
        if (ra.rerank) {
          sh.reranked.resize(nq * size_t(krs), "refine candidates");
          internal::launch_rerank_topk(q, ra, sh.merged.get(), static_cast<int>(nq), kcs, krs, sh.reranked.get(),
                                       sh.stream);
          cands = sh.reranked.get();
          ld = krs;
        }
        internal::RefineArgs fa;
        fa.vectors = sh.raw.get();
        fa.fp16 = sh.raw_fp16;
        fa.d = d;
        fa.queries = sh.queries.get();
        fa.l2 = metric == Metric::kL2;
        internal::launch_refine_topk(fa, cands, ld, static_cast<int>(nq), krs, k, sh.result.get(), sh.stream);
        st.refined += nq * size_t(krs);
      } else {
        internal::launch_rerank_topk(q, ra, sh.merged.get(), static_cast<int>(nq), kcs, k, sh.result.get(), sh.stream);
      }
      mark(3);
      if (staged) sh.h_result.resize(kStagedBytes / sizeof(Cand), "result staging");
      TQ_CUDA_CHECK(cudaMemcpyAsync(staged ? sh.h_result.get() : out.data(), sh.result.get(), nq * k * sizeof(Cand),
                                    cudaMemcpyDeviceToHost, sh.stream));
      st.scanned += nq * n;
      if (p.rerank_factor > 0) st.reranked += nq * size_t(kcs);
    }
    if (staged) sh.h_qnorm.resize(kQueryChunk, "query norm staging");
    TQ_CUDA_CHECK(cudaMemcpyAsync(staged ? sh.h_qnorm.get() : qnorm.data(), sh.qnorm.get(), nq * sizeof(float),
                                  cudaMemcpyDeviceToHost, sh.stream));
    TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
    if (staged) {
      std::memcpy(qnorm.data(), sh.h_qnorm.get(), nq * sizeof(float));
      if (n > 0) std::memcpy(out.data(), sh.h_result.get(), nq * k * sizeof(Cand));
    }
    if (timed && n > 0) {
      float ms[4];
      TQ_CUDA_CHECK(cudaEventElapsedTime(&ms[0], sh.events[4], sh.events[0]));
      for (int i = 1; i < 4; ++i) TQ_CUDA_CHECK(cudaEventElapsedTime(&ms[i], sh.events[i - 1], sh.events[i]));
      st.ms_prepare += ms[0];
      st.ms_scan += ms[1];
      st.ms_merge += ms[2];
      st.ms_rerank += ms[3];
    }
  }

  /// Each query's `nlists` sorted lists of K candidates → its best K (sh.merged).
  void merge(Shard& sh, size_t nq, int nlists, int K) {
    sh.merged.resize(nq * size_t(K), "merged candidates");
    internal::launch_merge(sh.cand.get(), static_cast<int>(nq), nlists, K, K, sh.merged.get(), sh.stream);
  }

  /// Global id of a shard-local row (segments of a shard are appended in increasing local order).
  int64_t to_global(size_t s, int32_t local) const {
    const std::vector<Segment>& segs = per_shard[s];
    auto it = std::upper_bound(segs.begin(), segs.end(), size_t(local),
                               [](size_t v, const Segment& g) { return v < g.local; });
    if (it == segs.begin()) return -1;
    --it;
    if (size_t(local) >= it->local + it->count) return -1;
    return int64_t(it->global + (size_t(local) - it->local));
  }
};

GpuIndexTurboQuant::GpuIndexTurboQuant(int d, const TurboQuantizerOptions& options, Metric metric,
                                       const GpuIndexConfig& config)
    : impl_(std::make_unique<Impl>()) {
  TQ_CHECK(metric == Metric::kInnerProduct || metric == Metric::kL2,
           "GpuIndexTurboQuant: metric must be inner product (0) or L2 (1), got " << static_cast<uint32_t>(metric));
  TQ_CHECK(metric != Metric::kL2 || !options.fold_renorm,
           "GpuIndexTurboQuant: L2 needs ‖x‖², which codes with fold_renorm (‖x‖/ρ only) do not keep; use inner product");
  impl_->d = d;
  impl_->metric = metric;
  impl_->config = config;
  impl_->tq = std::make_unique<TurboQuantizer>(d, options);  // validates d and options
  const int ndev = device_count();
  TQ_CHECK(ndev > 0, "GpuIndexTurboQuant: no CUDA device available (" << no_device_reason() << ")");
  std::vector<int> devs = config.devices;
  if (devs.empty()) {
    for (int i = 0; i < ndev; ++i) devs.push_back(i);
  }
  for (size_t i = 0; i < devs.size(); ++i) {
    TQ_CHECK(devs[i] >= 0 && devs[i] < ndev,
             "GpuIndexTurboQuant: device " << devs[i] << " is not visible (" << ndev << " CUDA devices)");
  }
  TQ_CHECK(config.refine == RefineStorage::kNone || config.refine == RefineStorage::kFp16 ||
               config.refine == RefineStorage::kFp32,
           "GpuIndexTurboQuant: refine storage must be kNone (0), kFp16 (1) or kFp32 (2), got "
               << static_cast<uint32_t>(config.refine));
  for (int dev : devs) {
    impl_->shards.push_back(std::make_unique<Shard>(*impl_->tq, dev));
    Shard& sh = *impl_->shards.back();
    sh.raw_fp16 = config.refine == RefineStorage::kFp16;
    sh.raw_row_bytes = config.refine == RefineStorage::kNone ? 0 : size_t(d) * (sh.raw_fp16 ? 2 : 4);
  }
  impl_->per_shard.resize(impl_->shards.size());
}

GpuIndexTurboQuant::~GpuIndexTurboQuant() = default;

int GpuIndexTurboQuant::d() const { return impl_->d; }
Metric GpuIndexTurboQuant::metric() const { return impl_->metric; }
const TurboQuantizer& GpuIndexTurboQuant::quantizer() const { return *impl_->tq; }
size_t GpuIndexTurboQuant::code_size() const { return impl_->tq->code_size(); }
size_t GpuIndexTurboQuant::ntotal() const { return impl_->ntotal; }
int GpuIndexTurboQuant::num_shards() const { return static_cast<int>(impl_->shards.size()); }
std::vector<int> GpuIndexTurboQuant::devices() const {
  std::vector<int> r;
  for (const auto& s : impl_->shards) r.push_back(s->device);
  return r;
}
bool GpuIndexTurboQuant::gpu_encode_supported() const { return impl_->gpu_encode(); }

size_t GpuIndexTurboQuant::device_memory_bytes() const {
  size_t b = 0;
  for (const auto& s : impl_->shards) b += s->memory_bytes();
  return b;
}

void GpuIndexTurboQuant::add(size_t n, const float* x) {
  if (n == 0) return;
  TQ_CHECK(x != nullptr, "GpuIndexTurboQuant::add: null input");
  check_finite_host(n, impl_->d, x, "GpuIndexTurboQuant::add");
  if (!impl_->gpu_encode()) {
    std::vector<uint8_t> codes(n * code_size());
    impl_->tq->encode(n, x, codes.data());
    impl_->add_codes_impl(n, codes.data(), x);
    return;
  }
  impl_->add_gpu(n, x, -1);
}

void GpuIndexTurboQuant::add_from_device(size_t n, const float* x, int device) {
  if (n == 0) return;
  TQ_CHECK(x != nullptr, "GpuIndexTurboQuant::add_from_device: null input");
  TQ_CHECK(device >= 0 && device < device_count(),
           "GpuIndexTurboQuant::add_from_device: device " << device << " is not visible");
  {
    DeviceScope scope(device);
    const int64_t bad = internal::find_nonfinite_rows(x, n, impl_->d, nullptr);
    TQ_CHECK(bad < 0, "GpuIndexTurboQuant::add_from_device: row " << bad
                                                                  << " has a non-finite value; only finite floats are allowed");
  }
  if (!impl_->gpu_encode()) {
    std::vector<float> host(n * size_t(impl_->d));
    DeviceScope scope(device);
    TQ_CUDA_CHECK(cudaMemcpy(host.data(), x, host.size() * sizeof(float), cudaMemcpyDeviceToHost));
    add(n, host.data());
    return;
  }
  impl_->add_gpu(n, x, device);
}

void GpuIndexTurboQuant::add_codes(size_t n, const uint8_t* codes, const float* vectors) {
  if (n == 0) return;
  TQ_CHECK(codes != nullptr, "GpuIndexTurboQuant::add_codes: null codes");
  if (impl_->keeps_raw()) {
    TQ_CHECK(vectors != nullptr, "GpuIndexTurboQuant::add_codes: this index keeps raw vectors for refine "
                                 "(GpuIndexConfig::refine); pass the (n, d) vectors the codes encode");
    check_finite_host(n, impl_->d, vectors, "GpuIndexTurboQuant::add_codes: vectors");
  }
  impl_->add_codes_impl(n, codes, impl_->keeps_raw() ? vectors : nullptr);
}

RefineStorage GpuIndexTurboQuant::refine_storage() const { return impl_->config.refine; }

std::vector<float> GpuIndexTurboQuant::vectors() const {
  if (!impl_->keeps_raw()) return {};
  const int d = impl_->d;
  std::vector<float> out(impl_->ntotal * size_t(d));
  for (const auto& g : impl_->segments) {
    Shard& sh = *impl_->shards[g.shard];
    DeviceScope scope(sh.device);
    if (sh.raw_fp16) {
      std::vector<__half> h(g.count * size_t(d));
      TQ_CUDA_CHECK(cudaMemcpyAsync(h.data(), sh.raw.get() + g.local * sh.raw_row_bytes, h.size() * sizeof(__half),
                                    cudaMemcpyDeviceToHost, sh.stream));
      TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
      for (size_t i = 0; i < h.size(); ++i) out[g.global * d + i] = __half2float(h[i]);
    } else {
      TQ_CUDA_CHECK(cudaMemcpyAsync(out.data() + g.global * d, sh.raw.get() + g.local * sh.raw_row_bytes,
                                    g.count * sh.raw_row_bytes, cudaMemcpyDeviceToHost, sh.stream));
      TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
    }
  }
  return out;
}

std::vector<uint8_t> GpuIndexTurboQuant::codes() const {
  const size_t cs = code_size();
  std::vector<uint8_t> out(impl_->ntotal * cs);
  for (const auto& g : impl_->segments) {
    Shard& sh = *impl_->shards[g.shard];
    DeviceScope scope(sh.device);
    TQ_CUDA_CHECK(cudaMemcpyAsync(out.data() + g.global * cs, sh.codes.get() + g.local * cs, g.count * cs,
                                  cudaMemcpyDeviceToHost, sh.stream));
    TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
  }
  return out;
}

void GpuIndexTurboQuant::reset() {
  for (auto& s : impl_->shards) s->size = 0;
  impl_->segments.clear();
  for (auto& p : impl_->per_shard) p.clear();
  impl_->ntotal = 0;
}

void GpuIndexTurboQuant::encode(size_t n, const float* x, uint8_t* codes) const {
  if (n == 0) return;
  TQ_CHECK(x != nullptr && codes != nullptr, "GpuIndexTurboQuant::encode: null input or output");
  check_finite_host(n, impl_->d, x, "GpuIndexTurboQuant::encode");
  if (!impl_->gpu_encode()) {
    impl_->tq->encode(n, x, codes);
    return;
  }
  Shard& sh = *impl_->shards[0];
  DeviceScope scope(sh.device);
  const internal::QuantView& q = sh.gq->view();
  const size_t batch = std::max<size_t>(32, impl_->config.add_batch / 32 * 32);
  const size_t cnt0 = std::min(batch, n);
  internal::DeviceBuffer<float> dx(cnt0 * impl_->d, "encode input");
  internal::DeviceBuffer<uint8_t> dc(cnt0 * q.code_size, "encode output");
  internal::DeviceBuffer<uint4> dt((cnt0 + 31) / 32 * q.chunks * internal::kTile, "encode scratch tiles");
  internal::DeviceBuffer<float> df(3 * cnt0, "encode scratch factors");
  const unsigned long long init = ~0ull;
  TQ_CUDA_CHECK(cudaMemcpyAsync(sh.flag.get(), &init, sizeof(init), cudaMemcpyHostToDevice, sh.stream));
  for (size_t r = 0; r < n; r += batch) {
    const size_t cnt = std::min(batch, n - r);
    TQ_CUDA_CHECK(cudaMemcpyAsync(dx.get(), x + r * impl_->d, cnt * impl_->d * sizeof(float), cudaMemcpyHostToDevice,
                                  sh.stream));
    internal::EncodeTarget t;
    t.row_codes = dc.get();
    t.scan_tiles = dt.get();
    t.norm = df.get();
    t.renorm = df.get() + cnt0;
    t.sqnorm = df.get() + 2 * cnt0;
    t.first = 0;
    t.bad_norm_row = sh.flag.get();
    internal::launch_encode(q, dx.get(), cnt, t, sh.stream);
    TQ_CUDA_CHECK(cudaMemcpyAsync(codes + r * q.code_size, dc.get(), cnt * q.code_size, cudaMemcpyDeviceToHost,
                                  sh.stream));
    unsigned long long bad = 0;
    TQ_CUDA_CHECK(cudaMemcpyAsync(&bad, sh.flag.get(), sizeof(bad), cudaMemcpyDeviceToHost, sh.stream));
    TQ_CUDA_CHECK(cudaStreamSynchronize(sh.stream));
    TQ_CHECK(bad == ~0ull, "GpuIndexTurboQuant::encode: row " << r + bad
                                                              << norm_overflow_reason(impl_->tq->options()));
  }
}

void GpuIndexTurboQuant::search(size_t nq, const float* queries, int k, const GpuSearchParams& params,
                                float* distances, int64_t* labels, GpuSearchStats* stats) const {
  TQ_CHECK(k >= 1 && k <= kMaxK, "GpuIndexTurboQuant::search: k must be in 1.." << kMaxK << ", got " << k);
  if (nq == 0) return;
  TQ_CHECK(queries != nullptr && distances != nullptr && labels != nullptr,
           "GpuIndexTurboQuant::search: null queries or outputs");
  const TurboQuantizer& tq = *impl_->tq;
  TQ_CHECK(tq.supports(params.estimator),
           "GpuIndexTurboQuant::search: estimator " << static_cast<uint32_t>(params.estimator) << " needs "
                                                    << estimator_requirement(params.estimator));
  TQ_CHECK(params.rerank_factor >= 0,
           "GpuIndexTurboQuant::search: rerank_factor must be >= 0, got " << params.rerank_factor);
  TQ_CHECK(params.refine_factor >= 0,
           "GpuIndexTurboQuant::search: refine_factor must be >= 0, got " << params.refine_factor);
  TQ_CHECK(params.gemm_min_batch >= -1,
           "GpuIndexTurboQuant::search: gemm_min_batch must be >= -1 (-1 = automatic), got " << params.gemm_min_batch);
  const int d = impl_->d;
  const bool l2 = impl_->metric == Metric::kL2;
  const float pad = l2 ? FLT_MAX : -FLT_MAX;
  const size_t ntotal = impl_->ntotal;
  // Non-finite queries: checked on the GPU by the query preparation (its ‖q‖ is NaN exactly when a value is
  // not finite), read back with the results; here only when no GPU work follows.
  if (ntotal == 0) {
    check_finite_host(nq, d, queries, "GpuIndexTurboQuant::search: query");
    std::fill(distances, distances + nq * k, pad);
    std::fill(labels, labels + nq * k, int64_t(-1));
    return;
  }
  size_t kc = size_t(k);
  if (params.rerank_factor > 0)
    kc = std::max({size_t(k) * size_t(params.rerank_factor), size_t(std::max(0, params.rerank_min)), size_t(k)});
  // Exact refine of the TQ stage's best k·refine_factor (when raw vectors are kept).
  const bool refine = impl_->keeps_raw() && params.refine_factor > 0;
  const size_t kr = refine ? std::min(size_t(k) * size_t(params.refine_factor), ntotal) : 0;
  TQ_CHECK(kr <= size_t(internal::kMaxSelectK),
           "GpuIndexTurboQuant::search: k·refine_factor = " << kr << " candidates exceed the GPU limit of "
                                                            << internal::kMaxSelectK);
  kc = std::max(kc, kr);
  kc = std::min(kc, ntotal);
  TQ_CHECK(kc <= size_t(internal::kMaxSelectK),
           "GpuIndexTurboQuant::search: k·rerank_factor = " << kc << " candidates exceed the GPU limit of "
                                                            << internal::kMaxSelectK);
  const size_t S = impl_->shards.size();
  GpuSearchStats total;
  for (size_t q0 = 0; q0 < nq; q0 += kQueryChunk) {
    const size_t cnt = std::min(kQueryChunk, nq - q0);
    const float* qp = queries + q0 * d;
    std::vector<float> host_sketch;
    if (params.estimator == Estimator::kQjl && params.rerank_factor > 0 &&
        tq.options().qjl_kind != QjlKind::kStructured) {
      host_sketch.resize(cnt * d);
      for (size_t i = 0; i < cnt; ++i) {
        const PreparedQuery pq = tq.prepare_query(qp + i * d);
        std::copy(pq.sketch.begin(), pq.sketch.end(), host_sketch.begin() + i * d);
      }
    }
    std::vector<std::vector<Cand>> res(S);
    std::vector<std::vector<float>> qn(S);
    std::vector<GpuSearchStats> st(S);
    for_each_shard(S, [&](size_t s) {
      impl_->search_shard(*impl_->shards[s], cnt, qp, k, static_cast<int>(kc), static_cast<int>(kr), params,
                          &host_sketch, res[s], qn[s],
                          st[s]);
    });
    for (size_t s = 0; s < S; ++s) {
      total.scanned += st[s].scanned;
      total.reranked += st[s].reranked;
      total.refined += st[s].refined;
      total.used_gemm = total.used_gemm || st[s].used_gemm;
      total.ms_prepare += st[s].ms_prepare;
      total.ms_scan += st[s].ms_scan;
      total.ms_merge += st[s].ms_merge;
      total.ms_rerank += st[s].ms_rerank;
    }
    for (size_t i = 0; i < cnt; ++i) {
      if (std::isnan(qn[0][i])) {
        const float* row = qp + i * d;
        int j = 0;
        while (j < d - 1 && std::isfinite(row[j])) ++j;
        TQ_THROW("GpuIndexTurboQuant::search: query " << q0 + i << " has a non-finite value (" << row[j]
                                                      << ") at column " << j << "; only finite floats are allowed");
      }
    }
    // Merge the shards' top-k: by score, then by smaller global id (the CPU order).
    struct G {
      float s;
      int64_t id;
    };
    std::vector<G> all;
    for (size_t i = 0; i < cnt; ++i) {
      all.clear();
      for (size_t s = 0; s < S; ++s) {
        for (int r = 0; r < k; ++r) {
          const Cand& c = res[s][i * k + r];
          if (c.id < 0) continue;
          all.push_back({c.s, impl_->to_global(s, c.id)});
        }
      }
      const size_t m = std::min(all.size(), size_t(k));
      std::partial_sort(all.begin(), all.begin() + m, all.end(),
                        [](const G& a, const G& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); });
      const float qq = qn[0][i] * qn[0][i];
      float* D = distances + (q0 + i) * k;
      int64_t* I = labels + (q0 + i) * k;
      for (int r = 0; r < k; ++r) {
        if (size_t(r) < m) {
          // Refine scores are exact: −‖q − x‖² (L2) or ⟨q, x⟩; TQ scores for L2 are 2⟨q, x⟩ − ‖x‖².
          D[r] = l2 ? (refine ? -all[r].s : qq - all[r].s) : all[r].s;
          I[r] = all[r].id;
        } else {
          D[r] = pad;
          I[r] = -1;
        }
      }
    }
  }
  if (stats) *stats = total;
}

}  // namespace tqsearch::gpu
