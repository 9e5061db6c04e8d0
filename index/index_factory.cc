// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/index_factory.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>

#include "quant/error.h"

namespace tqsearch {

namespace {

constexpr const char* kGrammar =
    "[IDMap|IDMap2,][HNSW<M>,]TQ<rate>[,Renorm|,MSE|,QJL][,Center][,OptCos][,Norm16][,Fold][,Dense][,Scan<b>][,Lut<m>][,RFlat]";
constexpr float kRefineKFactor = 4.0f;

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool is_tq_token(const std::string& t) {
  return t.size() >= 3 && t[0] == 'T' && t[1] == 'Q' && std::isdigit(static_cast<unsigned char>(t[2]));
}

/// Parses a positive decimal number that must use the whole string.
bool parse_number(const std::string& s, double* out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

struct TqDescription {
  int idmap = 0;  // 0 none, 1 IDMap, 2 IDMap2
  int hnsw_m = 0;
  double rate = 0;
  enum class Est { kDefault, kRenorm, kMse, kQjl } est = Est::kDefault;
  bool dense = false;
  bool center = false;
  bool optimize_cosine = false;
  bool fp16_norm = false;
  bool fold_renorm = false;
  bool refine_flat = false;
  int scan_bits = -1;  // -1: the recommended layout
  int lut_max = 0;     // 0: the default (FlatSearchParams::lut_max)
};

TqDescription parse(const std::string& description) {
  const std::vector<std::string> tok = split_commas(description);
  TqDescription r;
  size_t i = 0;
  auto fail = [&](const std::string& t, const std::string& why) {
    TQ_THROW("index_factory: bad token '" << t << "' in \"" << description << "\": " << why
                                          << "; grammar: " << kGrammar);
  };
  if (i < tok.size() && (tok[i] == "IDMap" || tok[i] == "IDMap2")) {
    r.idmap = tok[i] == "IDMap" ? 1 : 2;
    ++i;
  }
  if (i < tok.size() && tok[i].rfind("HNSW", 0) == 0) {
    double m = 0;
    if (!parse_number(tok[i].substr(4), &m) || m != std::floor(m) || m < 2 || m > 512)
      fail(tok[i], "HNSW needs an integer M in [2, 512]");
    r.hnsw_m = int(m);
    ++i;
  }
  if (i >= tok.size() || !is_tq_token(tok[i]))
    fail(i < tok.size() ? tok[i] : std::string(), "expected TQ<rate> here");
  if (!parse_number(tok[i].substr(2), &r.rate) || r.rate < 1 || r.rate > 8)
    fail(tok[i], "TQ needs a rate in [1, 8] bits per coordinate (e.g. TQ4, TQ2.5)");
  ++i;
  for (; i < tok.size(); ++i) {
    const std::string& t = tok[i];
    if (t == "Renorm" || t == "MSE" || t == "QJL") {
      if (r.est != TqDescription::Est::kDefault) fail(t, "at most one of Renorm, MSE, QJL");
      r.est = t == "Renorm" ? TqDescription::Est::kRenorm
                            : (t == "MSE" ? TqDescription::Est::kMse : TqDescription::Est::kQjl);
    } else if (t == "Dense") {
      if (r.dense) fail(t, "Dense given twice");
      r.dense = true;
    } else if (t == "Center") {
      if (r.center) fail(t, "Center given twice");
      r.center = true;
    } else if (t == "OptCos") {
      if (r.optimize_cosine) fail(t, "OptCos given twice");
      r.optimize_cosine = true;
    } else if (t == "Norm16") {
      if (r.fp16_norm) fail(t, "Norm16 given twice");
      r.fp16_norm = true;
    } else if (t == "Fold") {
      if (r.fold_renorm) fail(t, "Fold given twice");
      r.fold_renorm = true;
    } else if (t.rfind("Scan", 0) == 0) {
      double b = 0;
      if (r.scan_bits >= 0) fail(t, "Scan<b> given twice");
      if (!parse_number(t.substr(4), &b) || b != std::floor(b) || b < 0 || b > 4)
        fail(t, "Scan needs an integer b in [0, 4] (0: scan the full codes, 1..4: prefix scan with b bits)");
      r.scan_bits = int(b);
    } else if (t.rfind("Lut", 0) == 0) {
      double m = 0;
      if (r.lut_max != 0) fail(t, "Lut<m> given twice");
      if (!parse_number(t.substr(3), &m) || (m != 63 && m != 127 && m != 255))
        fail(t, "Lut needs m = 63, 127 or 255 (the largest LUT entry of the scan)");
      r.lut_max = int(m);
    } else if (t == "RFlat") {
      if (i + 1 != tok.size()) fail(t, "RFlat must be the last token");
      r.refine_flat = true;
    } else {
      fail(t, "unknown option (allowed after TQ<rate>: Renorm, MSE, QJL, Center, OptCos, Norm16, Fold, Dense, "
              "Scan<b>, Lut<m>, RFlat)");
    }
  }
  if (r.hnsw_m > 0 && r.lut_max != 0)
    fail("Lut" + std::to_string(r.lut_max), "Lut<m> sets the flat scan's LUTs; HNSW search does not scan");
  if (r.hnsw_m > 0 && r.scan_bits >= 0)
    fail("Scan" + std::to_string(r.scan_bits), "Scan<b> sets how a flat index scans its codes; HNSW search does not scan");
  if (r.optimize_cosine && (r.est == TqDescription::Est::kMse || r.est == TqDescription::Est::kQjl))
    fail("OptCos", "OptCos needs the renormalized estimator (the default or Renorm), not MSE or QJL");
  if (r.fold_renorm && (r.est == TqDescription::Est::kMse || r.est == TqDescription::Est::kQjl))
    fail("Fold", "Fold keeps only the renormalized estimator's scale ‖x‖/ρ: it needs the default or Renorm, not MSE "
                 "or QJL");
  return r;
}

IndexTurboQuantOptions options_of(const TqDescription& t) {
  IndexTurboQuantOptions o;
  o.quantizer.bits = t.rate;
  if (t.dense) o.quantizer.rotation.kind = RotationKind::kDense;
  o.center = t.center;
  o.quantizer.optimize_cosine = t.optimize_cosine;
  o.quantizer.fp16_norm = t.fp16_norm;
  o.quantizer.fold_renorm = t.fold_renorm;
  o.scan_bits = t.scan_bits;
  if (t.lut_max != 0) o.search.lut_max = t.lut_max;
  switch (t.est) {
    case TqDescription::Est::kDefault:
    case TqDescription::Est::kRenorm:
      o.quantizer.store_renorm = true;
      o.search.estimator = Estimator::kRenorm;
      break;
    case TqDescription::Est::kMse:
      o.quantizer.store_renorm = false;
      o.search.estimator = Estimator::kMse;
      break;
    case TqDescription::Est::kQjl:
      o.quantizer.store_renorm = false;
      o.quantizer.qjl = true;
      o.search.estimator = Estimator::kQjl;
      break;
  }
  return o;
}

std::unique_ptr<faiss::Index> wrap_normalization(int d, std::unique_ptr<faiss::Index> inner) {
  auto t = std::make_unique<faiss::IndexPreTransform>(new faiss::NormalizationTransform(d, 2.0f), inner.get());
  inner.release();
  t->own_fields = true;
  return t;
}

std::unique_ptr<faiss::Index> build_tq(int d, const TqDescription& t, IndexMetric metric) {
  // With RFlat and cosine, the raw vectors kept for the rerank must be normalized too: normalize outside. The TQ
  // index inside stays cosine (normalizing unit rows again is harmless) so that ",Center" ranks as L2 on centered
  // unit vectors there too (an inner-product index would take the weaker IP form of centering).
  const bool outer_normalize = metric == IndexMetric::kCosine && t.refine_flat;
  std::unique_ptr<faiss::Index> idx = std::make_unique<IndexTurboQuant>(d, metric, options_of(t));
  if (t.hnsw_m > 0) {
    auto h = std::make_unique<faiss::IndexHNSW>(idx.get(), t.hnsw_m);
    h->is_trained = idx->is_trained;  // FAISS's constructor says trained; a centered storage is not yet
    idx.release();
    h->own_fields = true;
    idx = std::move(h);
  }
  if (t.refine_flat) {
    auto r = std::make_unique<faiss::IndexRefineFlat>(idx.get());
    idx.release();
    r->own_fields = true;
    r->k_factor = kRefineKFactor;
    idx = std::move(r);
  }
  if (outer_normalize) idx = wrap_normalization(d, std::move(idx));
  if (t.idmap > 0) {
    std::unique_ptr<faiss::IndexIDMap> m;
    if (t.idmap == 1) {
      m = std::make_unique<faiss::IndexIDMap>(idx.get());
    } else {
      m = std::make_unique<faiss::IndexIDMap2>(idx.get());
    }
    idx.release();
    m->own_fields = true;
    idx = std::move(m);
  }
  return idx;
}

bool has_tq_token(const std::string& description) {
  for (const std::string& t : split_commas(description)) {
    if (is_tq_token(t)) return true;
  }
  return false;
}

std::unique_ptr<faiss::Index> faiss_factory(int d, const std::string& description, faiss::MetricType metric) {
  try {
    return std::unique_ptr<faiss::Index>(faiss::index_factory(d, description.c_str(), metric));
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("index_factory: \"" << description << "\" is neither a tqsearch description (" << kGrammar
                                 << ") nor accepted by faiss::index_factory: " << ex.what());
  }
}

}  // namespace

std::unique_ptr<faiss::Index> index_factory(int d, const std::string& description, IndexMetric metric) {
  TQ_CHECK(d >= 1, "index_factory: dimension d must be >= 1, got " << d);
  TQ_CHECK(metric == IndexMetric::kInnerProduct || metric == IndexMetric::kL2 || metric == IndexMetric::kCosine,
           "index_factory: unknown metric " << uint32_t(metric));
  if (has_tq_token(description)) return build_tq(d, parse(description), metric);
  if (metric == IndexMetric::kCosine) {
    return wrap_normalization(d, faiss_factory(d, description, faiss::METRIC_INNER_PRODUCT));
  }
  return faiss_factory(d, description,
                       metric == IndexMetric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
}

std::unique_ptr<faiss::Index> index_factory(int d, const std::string& description, faiss::MetricType metric) {
  TQ_CHECK(d >= 1, "index_factory: dimension d must be >= 1, got " << d);
  if (!has_tq_token(description)) return faiss_factory(d, description, metric);
  TQ_CHECK(metric == faiss::METRIC_L2 || metric == faiss::METRIC_INNER_PRODUCT,
           "index_factory: TurboQuant indexes support METRIC_L2 and METRIC_INNER_PRODUCT, got metric " << int(metric));
  return build_tq(d, parse(description),
                  metric == faiss::METRIC_L2 ? IndexMetric::kL2 : IndexMetric::kInnerProduct);
}

}  // namespace tqsearch
