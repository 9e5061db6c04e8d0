// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/index_summary.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <typeinfo>

#include <faiss/IndexFastScan.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexShards.h>
#include <faiss/VectorTransform.h>

#include "index/index_turbo_quant.h"
#include "quant/simd_level.h"

namespace tqsearch::cli {

namespace {

std::string demangle(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
  std::string s = status == 0 && p ? p.get() : t.name();
  for (const char* ns : {"faiss::", "tqsearch::"}) {
    const std::string n(ns);
    if (s.rfind(n, 0) == 0) s = s.substr(n.size());
  }
  // FAISS's id maps are class templates: IndexIDMapTemplate<faiss::Index> is the IndexIDMap users know.
  if (s == "IndexIDMapTemplate<faiss::Index>") return "IndexIDMap";
  if (s == "IndexIDMap2Template<faiss::Index>") return "IndexIDMap2";
  return s;
}

/// The single wrapped index of a wrapper, or nullptr for leaves (and for shards, handled apart).
const faiss::Index* inner(const faiss::Index* ix) {
  if (auto* m = dynamic_cast<const faiss::IndexIDMap*>(ix)) return m->index;
  if (auto* r = dynamic_cast<const faiss::IndexRefine*>(ix)) return r->base_index;
  if (auto* h = dynamic_cast<const faiss::IndexHNSW*>(ix)) return h->storage;
  if (auto* p = dynamic_cast<const faiss::IndexPreTransform*>(ix)) return p->index;
  if (auto* s = dynamic_cast<const faiss::IndexShards*>(ix)) return s->count() > 0 ? s->at(0) : nullptr;
  return nullptr;
}

std::string fmt(double v, int prec = 2) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(prec);
  os << v;
  return os.str();
}

std::string bytes_human(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return fmt(b, u == 0 ? 0 : 2) + " " + units[u];
}

}  // namespace

IndexTurboQuant* find_turbo_quant(faiss::Index* index) {
  return const_cast<IndexTurboQuant*>(find_turbo_quant(static_cast<const faiss::Index*>(index)));
}

const IndexTurboQuant* find_turbo_quant(const faiss::Index* index) {
  for (const faiss::Index* ix = index; ix != nullptr; ix = inner(ix)) {
    if (auto* tq = dynamic_cast<const IndexTurboQuant*>(ix)) return tq;
  }
  return nullptr;
}

faiss::IndexRefine* find_refine(faiss::Index* index) {
  for (faiss::Index* ix = index; ix != nullptr; ix = const_cast<faiss::Index*>(inner(ix))) {
    if (auto* r = dynamic_cast<faiss::IndexRefine*>(ix)) return r;
  }
  return nullptr;
}

std::string metric_name(const faiss::Index& index) {
  if (const IndexTurboQuant* tq = find_turbo_quant(&index)) {
    if (tq->metric() == IndexMetric::kCosine) return "cos";
  }
  for (const faiss::Index* ix = &index; ix != nullptr; ix = inner(ix)) {
    if (auto* p = dynamic_cast<const faiss::IndexPreTransform*>(ix)) {
      for (const auto* vt : p->chain) {
        if (dynamic_cast<const faiss::NormalizationTransform*>(vt) != nullptr &&
            index.metric_type == faiss::METRIC_INNER_PRODUCT) {
          return "cos";
        }
      }
    }
  }
  switch (index.metric_type) {
    case faiss::METRIC_INNER_PRODUCT: return "ip";
    case faiss::METRIC_L2: return "l2";
    default: return "faiss-metric-" + std::to_string(int(index.metric_type));
  }
}

std::string type_chain(const faiss::Index& index) {
  std::string out;
  for (const faiss::Index* ix = &index; ix != nullptr; ix = inner(ix)) {
    if (!out.empty()) out += " > ";
    out += demangle(typeid(*ix));
  }
  return out;
}

double bytes_per_vector(const faiss::Index& index) {
  const faiss::Index* ix = &index;
  if (auto* tq = dynamic_cast<const IndexTurboQuant*>(ix)) return double(tq->code_size);
  if (auto* fc = dynamic_cast<const faiss::IndexFlatCodes*>(ix)) return double(fc->code_size);
  if (auto* fs = dynamic_cast<const faiss::IndexFastScan*>(ix)) return double(fs->code_size);
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(ix)) return double(ivf->code_size) + 8;
  if (auto* m = dynamic_cast<const faiss::IndexIDMap*>(ix)) {
    const double b = bytes_per_vector(*m->index);
    return b < 0 ? b : b + 8;
  }
  if (auto* r = dynamic_cast<const faiss::IndexRefine*>(ix)) {
    const double a = bytes_per_vector(*r->base_index), b = bytes_per_vector(*r->refine_index);
    return a < 0 || b < 0 ? -1 : a + b;
  }
  if (auto* h = dynamic_cast<const faiss::IndexHNSW*>(ix)) {
    const double s = bytes_per_vector(*h->storage);
    return s < 0 ? s : s + 4.0 * double(h->hnsw.nb_neighbors(0));
  }
  if (auto* p = dynamic_cast<const faiss::IndexPreTransform*>(ix)) return bytes_per_vector(*p->index);
  if (auto* s = dynamic_cast<const faiss::IndexShards*>(ix)) return s->count() > 0 ? bytes_per_vector(*s->at(0)) : -1;
  try {
    return double(ix->sa_code_size());
  } catch (...) {
    return -1;
  }
}

double bits_per_vector(const faiss::Index& index) {
  const double bytes = bytes_per_vector(index);
  if (bytes < 0) return -1;
  double bits = 8 * bytes;
  if (const IndexTurboQuant* tq = find_turbo_quant(&index)) {
    // TurboQuant mse bits are packed without per-coordinate padding: count them exactly (fractional rates).
    const TurboQuantizer& q = tq->quantizer();
    bits -= 8.0 * double(q.mse_bytes()) - double(q.allocation().total_bits());
  }
  return bits;
}

std::vector<std::pair<std::string, std::string>> describe_index(const faiss::Index& index) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("type", type_chain(index));
  f.emplace_back("d", std::to_string(index.d));
  f.emplace_back("metric", metric_name(index));
  f.emplace_back("count", std::to_string(index.ntotal));
  f.emplace_back("trained", index.is_trained ? "yes" : "no");
  const double bpv = bytes_per_vector(index);
  const IndexTurboQuant* tq = find_turbo_quant(&index);
  if (bpv >= 0) {
    f.emplace_back("bytes/vector", fmt(bpv, bpv == double(int64_t(bpv)) ? 0 : 2));
    double memory = bpv * double(index.ntotal);
    if (tq != nullptr) memory += double(tq->scanner().memory_bytes());
    f.emplace_back("memory", bytes_human(memory) + (tq != nullptr ? " (codes + scan layout)" : " (codes)"));
  }
  if (tq != nullptr) {
    const auto& o = tq->options();
    const TurboQuantizer& q = tq->quantizer();
    std::ostringstream bits;
    bits << o.quantizer.bits << " per coordinate (mse)";
    if (o.quantizer.qjl) bits << " + 1 QJL bit";
    bits << ", " << bits_per_vector(*tq) << " bits/vector with "
         << (o.quantizer.fold_renorm ? "norm/rho folded into one scale"
                                     : std::string("norm") + (o.quantizer.store_renorm ? " and rho" : ""))
         << (o.quantizer.qjl ? " and gamma" : "")
         << (o.quantizer.fp16_norm ? (o.quantizer.fold_renorm ? " (fp16)" : " (fp16 norm)") : "");
    f.emplace_back("bits", bits.str());
    if (o.center) {
      // How distances use μ (index_turbo_quant.h): L2 on centered data, or the IP form ⟨q, x − μ⟩ + ⟨q, μ⟩.
      const std::string form = tq->ranks_as_l2() ? (tq->metric() == IndexMetric::kCosine
                                                        ? "ranked as L2 on centered unit vectors"
                                                        : "ranked as L2 on centered vectors")
                                                 : "inner product of the uncentered query plus <q, mean>";
      f.emplace_back("centering", (tq->mean().empty() ? std::string("on, not trained (no mean yet)")
                                                      : "on, mean of d = " + std::to_string(tq->d) + " stored") +
                                      "; " + form);
    }
    if (o.quantizer.optimize_cosine) f.emplace_back("codes", "optimize_cosine (max cosine per vector)");
    f.emplace_back("estimator", std::string(estimator_name(o.search.estimator)) + ", rerank factor " +
                                    std::to_string(o.search.rerank_factor) + " (min " +
                                    std::to_string(o.search.rerank_min) + ")");
    const int sb = tq->scanner().layout().scan_bits;
    std::ostringstream scan;
    if (sb == 0) {
      scan << "full codes";
    } else {
      scan << "prefix, top " << sb << " bits per coordinate, rows rescored within z = " << o.search.prefix_z
           << (o.scan_bits < 0 ? " (recommended layout)" : "");
    }
    // A coarse LUT bounds the scan unless the codes take the 8-bit path (no LUT) or, on the full layout, the QJL
    // estimator keeps its rerank list (FlatScanner::search).
    if (o.search.lut_max < 255) {
      if (tq->scanner().scan_codes().int8_path())
        scan << "; lut_max " << o.search.lut_max << " has no effect (8-bit codes are scanned with int8 products)";
      else if (sb == 0 && o.search.estimator == Estimator::kQjl)
        scan << "; LUT entries 0.." << o.search.lut_max << ", QJL rerank list (no LUT bound)";
      else
        scan << "; LUT entries 0.." << o.search.lut_max << ", rows rescored within lut_z = " << o.search.lut_z;
    }
    f.emplace_back("scan", scan.str());
    const RotationParams r = q.rotation().params();
    std::ostringstream rot;
    rot << (r.kind == RotationKind::kHadamard ? "randomized Hadamard" : "dense Haar") << ", seed 0x" << std::hex
        << r.seed << std::dec;
    if (r.kind == RotationKind::kHadamard) rot << ", rounds " << (r.rounds == 0 ? std::string("default") : std::to_string(r.rounds));
    f.emplace_back("rotation", rot.str());
  }
  f.emplace_back("simd", std::string(simd_level_name(simd_level())) + " (detected " +
                             std::string(simd_level_name(detected_simd_level())) + ")");
  return f;
}

}  // namespace tqsearch::cli
