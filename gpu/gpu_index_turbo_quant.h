// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// TurboQuant codes (arXiv 2504.19874) resident on NVIDIA GPUs: encode, batched k-NN search, rerank.
///
/// The codes are the row codes of tqsearch::TurboQuantizer, byte for byte (see quant/turbo_quantizer.h): an
/// index built on the CPU (IndexTurboQuant / FlatScanner) can be loaded here with add_codes(), and codes()
/// returns what the CPU side needs to search an index built here. index/gpu_conversion.h (FAISS builds) wraps
/// this as index_cpu_to_gpu / index_gpu_to_cpu, so a GPU index is saved and loaded through its CPU form. Beside the
/// row codes each GPU keeps a scan layout (tiles of 32 vectors, 16-byte chunks; up to 4 bits per coordinate as
/// sign/magnitude codes dequantized through an 8-entry int8 magnitude table, larger rates as int8 values) and the
/// per-vector factors.
///
/// Search pipeline per GPU (shard):
///   queries ─FWHT rotation (same signs as quant's HadamardRotation)─▶ Πq, int8 Πq
///     fused scan (16-byte coalesced loads, int8 tensor cores (nibble codes) or dp4a, up to 32 queries per pass)
///       + block top-k (thresholds in registers, lists compacted together, overflow re-offered)
///     large batches at large d, or d too large for a fused scan block's shared memory: dequantize tiles to int8 +
///       cuBLAS int8 GEMM (int32: the fused scan's exact integer dot products, so both paths rank identically) + top-k
///   ─▶ k·rerank_factor candidates ─rerank in float with the chosen estimator (mse / renorm / QJL)─▶ top-k
///   optional exact refine (config.refine): the TQ stage returns k·refine_factor candidates, re-scored with the
///   raw vectors kept in device memory (fp16 or fp32) ─▶ top-k with exact distances (as faiss::IndexRefineFlat)
/// Several GPUs: the database is sharded over the devices (each add is split evenly), each shard searches
/// concurrently and the per-shard top-k are merged on the host.
///
/// Public header without CUDA types (pimpl). All methods throw tqsearch::Error on bad input, when no CUDA
/// device is available, on GPU out-of-memory and on any CUDA failure; nothing aborts.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/flat_scanner.h"
#include "quant/turbo_quantizer.h"

namespace tqsearch::gpu {

/// Raw vectors kept beside the codes for the exact refine stage.
enum class RefineStorage : uint32_t {
  kNone = 0,  ///< codes only (code_size bytes per vector)
  kFp16 = 1,  ///< + d·2 bytes per vector; values must fit fp16 (|x| ≤ 65504); distances to the fp16-rounded vectors
  kFp32 = 2,  ///< + d·4 bytes per vector; exact float distances
};

struct GpuIndexConfig {
  /// Devices to shard over, one shard per entry; empty = every visible device. A device may appear more than
  /// once (several shards on one GPU: tests of the sharding on a one-GPU machine).
  std::vector<int> devices;
  /// Rows encoded per chunk in add() (bounds the temporary device memory: chunk·d·4 bytes).
  size_t add_batch = size_t(1) << 16;
  /// Keep the raw vectors on the GPU for an exact second stage (GpuSearchParams::refine_factor). Recall beyond
  /// what the 4-bit estimator ranks (near-ties) costs d·2 or d·4 more bytes per vector.
  RefineStorage refine = RefineStorage::kNone;
};

struct GpuSearchParams {
  Estimator estimator = Estimator::kMse;  ///< rerank estimator; also fixes the scan's per-vector factor
  int rerank_factor = 4;  ///< rescore the best k·rerank_factor scan candidates in float; 0 = no rerank
  int rerank_min = 16;    ///< ...but at least this many (when rerank_factor > 0)
  /// Batches of at least this many queries use dequantize-to-int8 + cuBLAS int8 GEMM instead of the fused scan;
  /// 0 = never; −1 = automatic (GEMM from 128 queries when the padded d is at least 512: on an H100 at d = 1536 the
  /// GEMM wins from ~256 queries and the fused scan up to 64; at d = 128 the fused scan wins at every batch size,
  /// the GEMM path being bound by the top-k over its int32 score matrix — bench/gpu, bench/RESULTS.md; and always
  /// when a fused scan block would not fit the device's shared memory, d beyond ~14k).
  int gemm_min_batch = -1;
  /// Exact refine, when the index keeps raw vectors (GpuIndexConfig::refine): the TQ stage (scan + rerank) keeps
  /// k·refine_factor candidates, which are re-scored exactly (float32 arithmetic) against the stored vectors; the
  /// distances returned are then exact: ⟨q, x⟩, or ‖q − x‖² computed as a sum of squared differences. 0 = no refine
  /// (TQ estimates only). Ignored when the index keeps no raw vectors.
  int refine_factor = 4;
  /// Record CUDA events between the stages and report their times in GpuSearchStats (benchmarks).
  bool collect_timings = false;
};

/// Counters of the last search (sums over shards).
struct GpuSearchStats {
  size_t scanned = 0;   ///< vector×query pairs scored by the scan
  size_t reranked = 0;  ///< candidates rescored in float
  size_t refined = 0;   ///< candidates rescored exactly with the raw vectors
  bool used_gemm = false;
  /// Device times in ms (collect_timings only; summed over shards and query chunks): query rotation,
  /// scan (fused, or dequantize + GEMM + select), candidate merge, rerank + refine + final top-k.
  float ms_prepare = 0, ms_scan = 0, ms_merge = 0, ms_rerank = 0;
};

class GpuIndexTurboQuant {
 public:
  /// @param d        dimension (as TurboQuantizer)
  /// @param options  quantizer options; the GPU codes are exactly TurboQuantizer(d, options)'s
  /// @param metric   inner product or squared L2 (distances as FlatScanner reports them)
  GpuIndexTurboQuant(int d, const TurboQuantizerOptions& options, Metric metric, const GpuIndexConfig& config = {});
  ~GpuIndexTurboQuant();
  GpuIndexTurboQuant(const GpuIndexTurboQuant&) = delete;
  GpuIndexTurboQuant& operator=(const GpuIndexTurboQuant&) = delete;

  int d() const;
  Metric metric() const;
  const TurboQuantizer& quantizer() const;
  size_t code_size() const;
  size_t ntotal() const;
  int num_shards() const;
  /// Device ordinals of the shards.
  std::vector<int> devices() const;
  /// Whether add()/encode() run on the GPU (Hadamard rotation and d within the shared-memory limit); when
  /// false they encode with the CPU TurboQuantizer and upload, with identical codes.
  bool gpu_encode_supported() const;

  /// Encode on the GPU and append. Rows get ids ntotal() .. ntotal()+n−1.
  /// @param x  (n, d) row-major float32 on the host; NaN/Inf rejected with the row index
  void add(size_t n, const float* x);
  /// Same as add() with x already on GPU `device` (a device pointer, (n, d) float32). Benchmarks use this to
  /// avoid the host transfer. Copied peer-to-peer to the shards on other devices.
  void add_from_device(size_t n, const float* x, int device);
  /// Append row codes produced by TurboQuantizer::encode (CPU) or by codes(). @param codes (n, code_size())
  /// @param vectors  (n, d) float32 host rows the codes encode: required when the index keeps raw vectors for
  ///                 refine (config.refine != kNone; finite, fp16 range for kFp16), otherwise ignored (may be null)
  void add_codes(size_t n, const uint8_t* codes, const float* vectors = nullptr);
  /// All row codes in id order, (ntotal(), code_size()) — what the CPU index stores.
  std::vector<uint8_t> codes() const;
  RefineStorage refine_storage() const;
  /// The raw vectors kept for refine, in id order, (ntotal(), d) float32 (fp16 storage: the fp16-rounded values);
  /// empty when the index keeps none.
  std::vector<float> vectors() const;
  void reset();

  /// Encode on the GPU (first shard's device) without adding: the same bytes as quantizer().encode().
  /// @param x      (n, d) float32 host
  /// @param codes  (n, code_size()) host output
  void encode(size_t n, const float* x, uint8_t* codes) const;

  /// k-NN search.
  /// @param queries    (nq, d) float32 host
  /// @param k          1..1024; results past ntotal() are padded with label −1 and distance −inf (IP) / +inf (L2)
  /// @param distances  (nq, k) host: IP estimates descending, or squared-L2 estimates ascending
  /// @param labels     (nq, k) host ids
  void search(size_t nq, const float* queries, int k, const GpuSearchParams& params, float* distances,
              int64_t* labels, GpuSearchStats* stats = nullptr) const;

  /// Bytes of device memory held (codes, scan layout, factors, raw vectors for refine), summed over shards.
  size_t device_memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tqsearch::gpu
