// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/gpu_conversion.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexRefine.h>

#include <cmath>
#include <typeinfo>
#include <vector>

#include "quant/error.h"

namespace tqsearch {
namespace {

struct CpuParts {
  const IndexTurboQuant* tq = nullptr;
  const faiss::IndexFlat* flat = nullptr;  // IndexRefineFlat only
  float k_factor = 0;
};

/// The IndexTurboQuant (and refine vectors) inside `cpu`, or a clear error. No GPU work.
CpuParts parts_of(const faiss::Index& cpu, const char* who) {
  CpuParts p;
  if (const auto* tq = dynamic_cast<const IndexTurboQuant*>(&cpu)) {
    p.tq = tq;
  } else if (const auto* rf = dynamic_cast<const faiss::IndexRefine*>(&cpu)) {
    p.tq = dynamic_cast<const IndexTurboQuant*>(rf->base_index);
    p.flat = dynamic_cast<const faiss::IndexFlat*>(rf->refine_index);
    TQ_CHECK(p.tq != nullptr && p.flat != nullptr,
             who << ": an IndexRefine must have an IndexTurboQuant base and a faiss::IndexFlat refine index (got "
                 << (rf->base_index ? typeid(*rf->base_index).name() : "null") << " over "
                 << (rf->refine_index ? typeid(*rf->refine_index).name() : "null") << ")");
    TQ_CHECK(p.flat->ntotal == p.tq->ntotal, who << ": refine index holds " << p.flat->ntotal
                                                 << " vectors but the base holds " << p.tq->ntotal);
    TQ_CHECK(p.flat->metric_type == p.tq->metric_type,
             who << ": refine index metric " << int(p.flat->metric_type) << " differs from the base's "
                 << int(p.tq->metric_type));
    TQ_CHECK(rf->k_factor >= 1 && std::isfinite(rf->k_factor),
             who << ": IndexRefine k_factor must be a finite value >= 1, got " << rf->k_factor);
    p.k_factor = rf->k_factor;
  } else {
    TQ_THROW(who << ": unsupported index type " << typeid(cpu).name()
                 << "; expected tqsearch::IndexTurboQuant or faiss::IndexRefineFlat over one");
  }
  TQ_CHECK(p.tq->metric() == IndexMetric::kInnerProduct || p.tq->metric() == IndexMetric::kL2,
           who << ": metric " << index_metric_name(p.tq->metric())
               << " has no GPU form (the GPU index does not normalize queries); use inner product over normalized "
                  "vectors");
  // Centered codes are codes of x − μ: the GPU index has no μ, so its distances would be silently wrong.
  TQ_CHECK(!p.tq->options().center,
           who << ": centered indexes (options.center / \",Center\") have no GPU form yet (the GPU index stores no "
                  "mean); build the index without centering, or subtract the mean from vectors and queries yourself");
  return p;
}

Metric gpu_metric(IndexMetric m) { return m == IndexMetric::kL2 ? Metric::kL2 : Metric::kInnerProduct; }

}  // namespace

std::unique_ptr<gpu::GpuIndexTurboQuant> index_cpu_to_gpu(const faiss::Index& cpu, const gpu::GpuIndexConfig& config) {
  const CpuParts p = parts_of(cpu, "index_cpu_to_gpu");
  gpu::GpuIndexConfig cfg = config;
  if (p.flat != nullptr && cfg.refine == gpu::RefineStorage::kNone) cfg.refine = gpu::RefineStorage::kFp32;
  if (p.flat == nullptr) cfg.refine = gpu::RefineStorage::kNone;  // nothing to keep
  auto out = std::make_unique<gpu::GpuIndexTurboQuant>(static_cast<int>(p.tq->d), p.tq->options().quantizer,
                                                       gpu_metric(p.tq->metric()), cfg);
  TQ_CHECK(out->code_size() == p.tq->code_size, "index_cpu_to_gpu: code size " << p.tq->code_size
                                                                                << " differs from the GPU's "
                                                                                << out->code_size());
  const size_t n = static_cast<size_t>(p.tq->ntotal);
  if (n > 0) out->add_codes(n, p.tq->codes.data(), p.flat ? p.flat->get_xb() : nullptr);
  return out;
}

std::unique_ptr<faiss::Index> index_gpu_to_cpu(const gpu::GpuIndexTurboQuant& gpu, const FlatSearchParams* search,
                                               int refine_factor) {
  IndexTurboQuantOptions o;
  o.quantizer = gpu.quantizer().options();
  if (search != nullptr) {
    o.search = *search;
  } else {
    o.search = FlatSearchParams{};
    o.search.estimator = o.quantizer.store_renorm ? Estimator::kRenorm : Estimator::kMse;
  }
  const IndexMetric metric = gpu.metric() == Metric::kL2 ? IndexMetric::kL2 : IndexMetric::kInnerProduct;
  auto tq = std::make_unique<IndexTurboQuant>(gpu.d(), metric, o);
  const size_t n = gpu.ntotal();
  if (n > 0) {
    const std::vector<uint8_t> codes = gpu.codes();
    tq->add_sa_codes(static_cast<faiss::Index::idx_t>(n), codes.data());
  }
  if (gpu.refine_storage() == gpu::RefineStorage::kNone) return tq;
  TQ_CHECK(refine_factor >= 1, "index_gpu_to_cpu: refine_factor must be >= 1, got " << refine_factor);
  const std::vector<float> xb = gpu.vectors();
  // IndexRefineFlat(base, xb): refine index = IndexFlat of the base's metric filled with the ntotal rows of xb.
  auto refine = std::make_unique<faiss::IndexRefineFlat>(tq.get(), n > 0 ? xb.data() : nullptr);
  tq.release();
  refine->own_fields = true;
  refine->k_factor = static_cast<float>(refine_factor);
  return refine;
}

gpu::GpuSearchParams gpu_search_params_for(const faiss::Index& cpu) {
  const CpuParts p = parts_of(cpu, "gpu_search_params_for");
  const FlatSearchParams& s = p.tq->options().search;
  gpu::GpuSearchParams g;
  g.estimator = s.estimator;
  g.rerank_factor = s.rerank_factor;
  g.rerank_min = s.rerank_min;
  g.refine_factor = p.flat != nullptr ? static_cast<int>(std::ceil(p.k_factor)) : 0;
  return g;
}

}  // namespace tqsearch
