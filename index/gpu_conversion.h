// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Conversion between the CPU IndexTurboQuant (a faiss::Index) and the GPU GpuIndexTurboQuant: both hold the same
/// TurboQuantizer row codes (arXiv 2504.19874), byte for byte, so an index built on one side searches on the
/// other, and a GPU index is saved and loaded through its CPU form (tqsearch::write_index / read_index).
///
/// Supported CPU forms:
///  - IndexTurboQuant with inner product or L2 (cosine: the GPU index has no query normalization; build the CPU
///    index with inner product over normalized vectors instead, or normalize outside).
///  - faiss::IndexRefineFlat whose base is an IndexTurboQuant and whose refine index is a faiss::IndexFlat of the
///    same metric ("TQ4,RFlat"): the raw vectors go to the GPU index's exact refine stage.
/// Anything else (IndexIDMap, HNSW, shards, ...) is rejected with a tqsearch::Error naming the type, before any GPU
/// work. Built only when both FAISS and CUDA are enabled (target tqsearch_gpu_conversion).

#include <memory>

#include <faiss/Index.h>

#include "gpu/gpu_index_turbo_quant.h"
#include "index/index_turbo_quant.h"

namespace tqsearch {

/// A GPU index holding the codes (and, for IndexRefineFlat, the raw vectors) of `cpu`.
/// @param cpu     IndexTurboQuant (IP or L2) or IndexRefineFlat over one (see above)
/// @param config  devices, encode batch, refine storage. For an IndexRefineFlat, config.refine == kNone means
///                kFp32 (exact, as on the CPU); kFp16 keeps half the bytes.
/// @throws tqsearch::Error for unsupported index types or metrics, and when no CUDA device is available
std::unique_ptr<gpu::GpuIndexTurboQuant> index_cpu_to_gpu(const faiss::Index& cpu,
                                                          const gpu::GpuIndexConfig& config = {});

/// The CPU form of `gpu`: an IndexTurboQuant with identical codes (ids 0..ntotal−1 in the same order), wrapped in a
/// faiss::IndexRefineFlat (k_factor = refine_factor) over the kept raw vectors when the GPU index keeps them
/// (RefineStorage::kFp16: the fp16-rounded values, as the GPU refines with them).
/// @param search  default search parameters of the CPU index (estimator must be supported by the codes); null:
///                the renorm estimator when the codes store ρ, else mse, and FlatSearchParams' other defaults.
///                The CPU index gets the recommended scan layout (the GPU scan has none to carry over: a CPU index
///                built with Scan<b> comes back with its default layout; set scan_bits in new options to choose).
/// @param refine_factor  k_factor of the IndexRefineFlat (>= 1; only used when the GPU index keeps raw vectors)
std::unique_ptr<faiss::Index> index_gpu_to_cpu(const gpu::GpuIndexTurboQuant& gpu,
                                               const FlatSearchParams* search = nullptr, int refine_factor = 4);

/// GPU search parameters equivalent to the CPU index's defaults: estimator, rerank_factor, rerank_min; for an
/// IndexRefineFlat also refine_factor = ⌈k_factor⌉ (0 otherwise). Same accepted types as index_cpu_to_gpu.
gpu::GpuSearchParams gpu_search_params_for(const faiss::Index& cpu);

}  // namespace tqsearch
