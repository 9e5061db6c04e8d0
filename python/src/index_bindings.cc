// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index_bindings.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>
#include <pybind11/stl.h>

#include "index/index_factory.h"
#include "index/index_turbo_quant.h"
#include "numpy_arrays.h"
#include "quant/error.h"

namespace tqsearch::python {

namespace py = pybind11;
using namespace pybind11::literals;
using idx_t = faiss::Index::idx_t;

namespace {

// ------------------------------------------------------------------------------------------- small helpers

Estimator parse_estimator(const std::string& s) {
  if (s == "mse") return Estimator::kMse;
  if (s == "renorm") return Estimator::kRenorm;
  if (s == "qjl") return Estimator::kQjl;
  throw py::value_error("estimator must be 'mse', 'renorm' or 'qjl', got '" + s + "'");
}

IndexMetric parse_metric(py::handle metric) {
  if (py::isinstance<py::str>(metric)) {
    const std::string s = metric.cast<std::string>();
    if (s == "ip" || s == "inner_product" || s == "IP") return IndexMetric::kInnerProduct;
    if (s == "l2" || s == "L2") return IndexMetric::kL2;
    if (s == "cosine" || s == "cos") return IndexMetric::kCosine;
    throw py::value_error("metric must be 'ip', 'l2' or 'cosine' (or faiss.METRIC_INNER_PRODUCT = 0 / "
                          "faiss.METRIC_L2 = 1), got '" + s + "'");
  }
  if (py::isinstance<py::int_>(metric) && !py::isinstance<py::bool_>(metric)) {
    const long v = metric.cast<long>();
    if (v == faiss::METRIC_INNER_PRODUCT) return IndexMetric::kInnerProduct;
    if (v == faiss::METRIC_L2) return IndexMetric::kL2;
    throw py::value_error("metric " + std::to_string(v) + " is not supported: use 'ip' (faiss.METRIC_INNER_PRODUCT"
                          " = 0), 'l2' (faiss.METRIC_L2 = 1) or 'cosine'");
  }
  throw py::type_error("metric must be a str ('ip', 'l2', 'cosine') or a FAISS metric int, got " +
                       py::str(py::type::of(metric)).cast<std::string>());
}

std::string metric_name(const faiss::Index& index) {
  if (auto* tq = dynamic_cast<const IndexTurboQuant*>(&index)) return index_metric_name(tq->metric());
  if (index.metric_type == faiss::METRIC_INNER_PRODUCT) return "ip";
  if (index.metric_type == faiss::METRIC_L2) return "l2";
  return "faiss_metric_" + std::to_string(int(index.metric_type));
}

bool translates_ids(const faiss::Index& index) { return dynamic_cast<const faiss::IndexIDMap*>(&index) != nullptr; }

void check_lut_max(int lut_max) {
  if (lut_max != 63 && lut_max != 127 && lut_max != 255)
    throw py::value_error("lut_max must be 63, 127 or 255, got " + std::to_string(lut_max));
}

void check_lut_z(float lut_z) {
  if (!(lut_z >= 0) || !std::isfinite(lut_z))
    throw py::value_error("lut_z must be a finite number >= 0, got " + std::to_string(lut_z));
}

/// Per-call search overrides from keyword arguments; nullptr when none is given.
std::unique_ptr<SearchParametersTurboQuant> make_params(const std::optional<std::string>& estimator,
                                                        std::optional<int> rerank_factor,
                                                        std::optional<int> rerank_min,
                                                        std::optional<float> qjl_prune_z,
                                                        std::optional<int> query_batch,
                                                        std::optional<float> prefix_z = std::nullopt,
                                                        std::optional<int> lut_max = std::nullopt,
                                                        std::optional<float> lut_z = std::nullopt) {
  if (!estimator && !rerank_factor && !rerank_min && !qjl_prune_z && !query_batch && !prefix_z && !lut_max && !lut_z)
    return nullptr;
  auto p = std::make_unique<SearchParametersTurboQuant>();
  if (estimator) p->estimator = parse_estimator(*estimator);
  if (rerank_factor) {
    if (*rerank_factor < 0) throw py::value_error("rerank_factor must be >= 0, got " + std::to_string(*rerank_factor));
    p->rerank_factor = *rerank_factor;
  }
  if (rerank_min) {
    if (*rerank_min < 0) throw py::value_error("rerank_min must be >= 0, got " + std::to_string(*rerank_min));
    p->rerank_min = *rerank_min;
  }
  if (qjl_prune_z) {
    if (!(*qjl_prune_z >= 0) || !std::isfinite(*qjl_prune_z))
      throw py::value_error("qjl_prune_z must be a finite number >= 0, got " + std::to_string(*qjl_prune_z));
    p->qjl_prune_z = *qjl_prune_z;
  }
  if (query_batch) {
    if (*query_batch < 1) throw py::value_error("query_batch must be >= 1, got " + std::to_string(*query_batch));
    p->query_batch = *query_batch;
  }
  if (prefix_z) {
    if (!(*prefix_z >= 0) || !std::isfinite(*prefix_z))
      throw py::value_error("prefix_z must be a finite number >= 0, got " + std::to_string(*prefix_z));
    p->prefix_z = *prefix_z;
  }
  if (lut_max) {
    check_lut_max(*lut_max);
    p->lut_max = *lut_max;
  }
  if (lut_z) {
    check_lut_z(*lut_z);
    p->lut_z = *lut_z;
  }
  return p;
}

py::tuple do_search(const faiss::Index& index, py::handle x, int64_t k, const faiss::SearchParameters* params) {
  if (k < 1) throw py::value_error("k must be >= 1, got " + std::to_string(k));
  FloatRows q = as_float_rows(x, "x", index.d);
  const py::ssize_t n = q.shape(0);
  py::array_t<float> distances({n, py::ssize_t(k)});
  py::array_t<int64_t> labels({n, py::ssize_t(k)});
  if (n > 0) {
    py::gil_scoped_release release;
    index.search(n, q.data(), k, distances.mutable_data(), labels.mutable_data(), params);
  }
  return py::make_tuple(distances, labels);
}

void check_row(const faiss::Index& index, int64_t key) {
  if (key < 0 || key >= index.ntotal) {
    throw py::index_error("key " + std::to_string(key) + " is out of range: the index has " +
                          std::to_string(index.ntotal) + " vectors (valid keys 0.." +
                          std::to_string(index.ntotal - 1) + ")");
  }
}

std::string repr_of(const faiss::Index& index, const char* type) {
  std::ostringstream os;
  os << "<tqsearch." << type << " d=" << index.d << " metric=" << metric_name(index) << " ntotal=" << index.ntotal;
  if (auto* tq = dynamic_cast<const IndexTurboQuant*>(&index)) {
    os << " bits=" << tq->options().quantizer.bits << " estimator=" << estimator_name(tq->options().search.estimator)
       << " code_size=" << tq->code_size;
  }
  os << ">";
  return os.str();
}

constexpr const char* kSearchDoc = R"doc(k-nearest-neighbor search.

Args:
    x: (n, d) float32 queries (other float/int dtypes are converted; C-contiguous float32 is used without a copy).
    k: number of neighbors, >= 1. When k > ntotal the extra columns hold label -1 and distance -inf (inner
        product) or +inf (L2), as FAISS does.
    estimator, rerank_factor, rerank_min, qjl_prune_z, query_batch, prefix_z, lut_max, lut_z: optional per-call
        overrides of a TurboQuant index's search defaults (see IndexTurboQuant.set_search_params); wrapper indexes
        pass them on.

Returns:
    (D, I): (n, k) float32 distances (inner-product estimates, descending, or squared-L2 estimates, ascending)
    and (n, k) int64 labels (row numbers, or ids for IndexIDMap). The GIL is released while searching.)doc";

template <class Cls>
void add_search(Cls& cls) {
  cls.def(
      "search",
      [](const faiss::Index& self, py::handle x, int64_t k, std::optional<std::string> estimator,
         std::optional<int> rerank_factor, std::optional<int> rerank_min, std::optional<float> qjl_prune_z,
         std::optional<int> query_batch, std::optional<float> prefix_z, std::optional<int> lut_max,
         std::optional<float> lut_z) {
        auto params =
            make_params(estimator, rerank_factor, rerank_min, qjl_prune_z, query_batch, prefix_z, lut_max, lut_z);
        return do_search(self, x, k, params.get());
      },
      "x"_a, "k"_a, py::kw_only(), "estimator"_a = py::none(), "rerank_factor"_a = py::none(),
      "rerank_min"_a = py::none(), "qjl_prune_z"_a = py::none(), "query_batch"_a = py::none(),
      "prefix_z"_a = py::none(), "lut_max"_a = py::none(), "lut_z"_a = py::none(), kSearchDoc);
}

// ------------------------------------------------------------------------------------------- Index (base)

void bind_index_base(py::module_& m) {
  py::class_<faiss::Index> cls(m, "Index", R"doc(Any index (a faiss::Index inside this module's own FAISS copy).

Objects of this class come from index_factory / read_index when the index is a plain FAISS type
(e.g. "Flat", "PQ32"); TurboQuant indexes and FAISS wrappers come back as their own subclasses.)doc");
  cls.def_property_readonly("d", [](const faiss::Index& s) { return s.d; }, "Vector dimension.")
      .def_property_readonly("ntotal", [](const faiss::Index& s) { return s.ntotal; }, "Number of vectors stored.")
      .def_property_readonly("is_trained", [](const faiss::Index& s) { return s.is_trained; },
                             "Whether add() may be called (TurboQuant indexes: always, unless centering is on and "
                             "train() has not computed the mean yet).")
      .def_property_readonly("metric_type", [](const faiss::Index& s) { return int(s.metric_type); },
                             "FAISS metric number: 0 = METRIC_INNER_PRODUCT, 1 = METRIC_L2.")
      .def_property_readonly("metric", &metric_name, "'ip', 'l2' or 'cosine'.")
      .def(
          "train",
          [](faiss::Index& self, py::handle x) {
            FloatRows a = as_float_rows(x, "x", self.d);
            py::gil_scoped_release release;
            self.train(a.shape(0), a.data());
          },
          "x"_a, "Train on (n, d) float32 vectors (a no-op for TurboQuant: it is data-oblivious).")
      .def(
          "add",
          [](faiss::Index& self, py::handle x) {
            FloatRows a = as_float_rows(x, "x", self.d);
            if (a.shape(0) == 0) return;
            py::gil_scoped_release release;
            self.add(a.shape(0), a.data());
          },
          "x"_a,
          "Add (n, d) float32 vectors; they get row numbers ntotal..ntotal+n-1. NaN/Inf rows are rejected with "
          "tqsearch.Error naming the row. The GIL is released while encoding.")
      .def(
          "add_with_ids",
          [](faiss::Index& self, py::handle x, py::handle ids) {
            if (dynamic_cast<IndexTurboQuant*>(&self) != nullptr) {
              throw tqsearch::Error(
                  "IndexTurboQuant numbers its vectors 0..ntotal-1 and stores no ids: wrap it, "
                  "tqsearch.IndexIDMap(index) (or IndexIDMap2 for reconstruct by id), or build with "
                  "tqsearch.index_factory(d, 'IDMap,TQ4'), then call add_with_ids");
            }
            FloatRows a = as_float_rows(x, "x", self.d);
            IdArray i = as_ids(ids, "ids", a.shape(0));
            if (a.shape(0) == 0) return;
            py::gil_scoped_release release;
            self.add_with_ids(a.shape(0), a.data(), i.data());
          },
          "x"_a, "ids"_a,
          "Add (n, d) float32 vectors with (n,) int64 ids (IndexIDMap / IndexIDMap2 and FAISS types that "
          "support ids).")
      .def(
          "remove_ids",
          [](faiss::Index& self, py::handle ids) {
            IdArray i = as_ids(ids, "ids", -1);
            faiss::IDSelectorBatch sel(i.shape(0), i.data());
            py::gil_scoped_release release;
            return self.remove_ids(sel);
          },
          "ids"_a,
          "Remove vectors by id (IndexIDMap) or by row number (flat indexes: the remaining rows are renumbered, "
          "as in FAISS). Returns the number removed.")
      .def(
          "reconstruct",
          [](const faiss::Index& self, int64_t key) {
            if (!translates_ids(self)) check_row(self, key);
            py::array_t<float> out(py::ssize_t(self.d));
            self.reconstruct(key, out.mutable_data());
            return out;
          },
          "key"_a,
          "Decoded vector (d,) float32 for a row number (IndexIDMap2: an id). TurboQuant returns the mse "
          "reconstruction ‖x‖·Πᵀŷ.")
      .def(
          "reconstruct_n",
          [](const faiss::Index& self, int64_t i0, int64_t n) {
            if (i0 < 0 || n < 0 || i0 + n > self.ntotal) {
              throw py::index_error("rows [" + std::to_string(i0) + ", " + std::to_string(i0 + n) +
                                    ") are out of range: the index has " + std::to_string(self.ntotal) + " vectors");
            }
            py::array_t<float> out({py::ssize_t(n), py::ssize_t(self.d)});
            if (n > 0) {
              py::gil_scoped_release release;
              self.reconstruct_n(i0, n, out.mutable_data());
            }
            return out;
          },
          "i0"_a, "n"_a, "Decoded rows i0..i0+n-1 as (n, d) float32.")
      .def(
          "range_search",
          [](const faiss::Index& self, py::handle x, float radius) {
            FloatRows q = as_float_rows(x, "x", self.d);
            const py::ssize_t n = q.shape(0);
            faiss::RangeSearchResult res(n);
            {
              py::gil_scoped_release release;
              if (n > 0) self.range_search(n, q.data(), radius, &res);
            }
            py::array_t<int64_t> lims(n + 1);
            for (py::ssize_t i = 0; i <= n; ++i) lims.mutable_at(i) = n > 0 ? int64_t(res.lims[i]) : 0;
            const py::ssize_t total = n > 0 ? py::ssize_t(res.lims[n]) : 0;
            py::array_t<float> dist(total);
            py::array_t<int64_t> lab(total);
            std::copy(res.distances, res.distances + total, dist.mutable_data());
            std::copy(res.labels, res.labels + total, lab.mutable_data());
            return py::make_tuple(lims, dist, lab);
          },
          "x"_a, "radius"_a,
          "All vectors with score > radius (inner product) or squared distance < radius (L2). Returns "
          "(lims, D, I) as FAISS does: the results of query i are D[lims[i]:lims[i+1]], I[lims[i]:lims[i+1]].")
      .def("reset", [](faiss::Index& self) { self.reset(); }, "Remove all vectors.")
      .def_property_readonly(
          "code_size", [](const faiss::Index& s) { return s.sa_code_size(); },
          "Bytes per vector of the standalone code (sa_encode); raises tqsearch.Error for index types without one.")
      .def(
          "sa_encode",
          [](const faiss::Index& self, py::handle x) {
            FloatRows a = as_float_rows(x, "x", self.d);
            const size_t cs = self.sa_code_size();
            py::array_t<uint8_t> out({a.shape(0), py::ssize_t(cs)});
            py::gil_scoped_release release;
            if (a.shape(0) > 0) self.sa_encode(a.shape(0), a.data(), out.mutable_data());
            return out;
          },
          "x"_a, "Encode (n, d) float32 vectors to (n, code_size) uint8 codes (the exact codes add() stores).")
      .def(
          "sa_decode",
          [](const faiss::Index& self, py::handle codes) {
            ByteRows c = as_code_rows(codes, "codes", int64_t(self.sa_code_size()));
            py::array_t<float> out({c.shape(0), py::ssize_t(self.d)});
            py::gil_scoped_release release;
            if (c.shape(0) > 0) self.sa_decode(c.shape(0), c.data(), out.mutable_data());
            return out;
          },
          "codes"_a, "Decode (n, code_size) uint8 codes to (n, d) float32 vectors.")
      .def("__repr__", [](const faiss::Index& s) { return repr_of(s, "Index"); })
      .def(
          "__reduce__",
          [](py::handle self) {
            py::module_ core = py::module_::import("tqsearch._core");
            return py::make_tuple(core.attr("deserialize_index"),
                                  py::make_tuple(core.attr("serialize_index")(self).attr("tobytes")()));
          },
          "Pickle support (and copy.deepcopy): the index travels as its serialize_index bytes.");
  add_search(cls);
}

// ------------------------------------------------------------------------------------------- IndexTurboQuant

void set_params(IndexTurboQuant& self, std::optional<std::string> estimator, std::optional<int> rerank_factor,
                std::optional<int> rerank_min, std::optional<float> qjl_prune_z, std::optional<int> query_batch,
                std::optional<float> prefix_z, std::optional<int> lut_max, std::optional<float> lut_z) {
  auto over = make_params(estimator, rerank_factor, rerank_min, qjl_prune_z, query_batch, prefix_z);
  if (lut_max) check_lut_max(*lut_max);
  if (lut_z) check_lut_z(*lut_z);
  if (!over && !lut_max && !lut_z) return;
  FlatSearchParams p = self.options().search;
  if (over) {
    if (over->estimator) p.estimator = *over->estimator;
    if (over->rerank_factor >= 0) p.rerank_factor = over->rerank_factor;
    if (over->rerank_min >= 0) p.rerank_min = over->rerank_min;
    if (over->qjl_prune_z >= 0) p.qjl_prune_z = over->qjl_prune_z;
    if (over->query_batch >= 1) p.query_batch = over->query_batch;
    if (over->prefix_z >= 0) p.prefix_z = over->prefix_z;
  }
  if (lut_max) p.lut_max = *lut_max;
  if (lut_z) p.lut_z = *lut_z;
  self.set_search_params(p);
}

void bind_index_turbo_quant(py::module_& m) {
  py::class_<IndexTurboQuant, faiss::Index> cls(m, "IndexTurboQuant", R"doc(Flat index over TurboQuant codes.

TurboQuant (arXiv 2504.19874) needs no training: vectors are normalized, rotated (randomized Hadamard), each
coordinate is quantized with a Lloyd-Max codebook; the norm is kept, optionally with the renormalization
factor ρ = <y, ŷ> and a 1-bit QJL sketch of the residual. Search scans the codes with SIMD lookup tables, then
reranks the top k·rerank_factor candidates with the chosen estimator.)doc");
  cls.def(py::init([](int d, double bits, py::handle metric, std::string estimator, std::optional<bool> qjl,
                      std::optional<bool> renorm, std::string rotation, std::optional<uint64_t> seed,
                      bool fp16_norm, bool fold_renorm, bool center, bool optimize_cosine, int rerank_factor,
                      int rerank_min,
                      float qjl_prune_z, int query_batch, int scan_bits, float prefix_z, int lut_max,
                      float lut_z) {
                 if (d < 1) throw py::value_error("d must be >= 1, got " + std::to_string(d));
                 IndexTurboQuantOptions o;
                 o.quantizer.bits = bits;
                 o.search.estimator = parse_estimator(estimator);
                 o.quantizer.qjl = qjl.value_or(o.search.estimator == Estimator::kQjl);
                 o.quantizer.store_renorm = renorm.value_or(o.search.estimator == Estimator::kRenorm);
                 if (rotation == "hadamard") {
                   o.quantizer.rotation.kind = RotationKind::kHadamard;
                 } else if (rotation == "dense") {
                   o.quantizer.rotation.kind = RotationKind::kDense;
                 } else {
                   throw py::value_error("rotation must be 'hadamard' or 'dense', got '" + rotation + "'");
                 }
                 if (seed) o.quantizer.rotation.seed = *seed;
                 o.quantizer.fp16_norm = fp16_norm;
                 o.quantizer.fold_renorm = fold_renorm;
                 o.quantizer.optimize_cosine = optimize_cosine;
                 o.center = center;
                 make_params(std::nullopt, rerank_factor, rerank_min, qjl_prune_z, query_batch, prefix_z);  // checks
                 check_lut_max(lut_max);
                 check_lut_z(lut_z);
                 if (scan_bits < -1 || scan_bits > 4)
                   throw py::value_error("scan_bits must be -1 (recommended), 0 (full codes) or 1..4 (prefix scan), got " +
                                         std::to_string(scan_bits));
                 o.scan_bits = scan_bits;
                 o.search.prefix_z = prefix_z;
                 o.search.rerank_factor = rerank_factor;
                 o.search.rerank_min = rerank_min;
                 o.search.qjl_prune_z = qjl_prune_z;
                 o.search.query_batch = query_batch;
                 o.search.lut_max = lut_max;
                 o.search.lut_z = lut_z;
                 return std::make_unique<IndexTurboQuant>(d, parse_metric(metric), o);
               }),
               "d"_a, "bits"_a = 4.0, "metric"_a = "ip", py::kw_only(), "estimator"_a = "renorm",
               "qjl"_a = py::none(), "renorm"_a = py::none(), "rotation"_a = "hadamard", "seed"_a = py::none(),
               "fp16_norm"_a = false, "fold_renorm"_a = false, "center"_a = false, "optimize_cosine"_a = false, "rerank_factor"_a = 4, "rerank_min"_a = 16, "qjl_prune_z"_a = 3.0f,
               "query_batch"_a = 4, "scan_bits"_a = -1, "prefix_z"_a = 2.0f,
               "lut_max"_a = 255, "lut_z"_a = 3.0f,
               R"doc(Create an empty index.

Args:
    d: dimension, 1..65536.
    bits: mse bits per coordinate: 1, 2, 3, 4, 8 or fractional (2.5, 3.5: half the coordinates get one more bit).
    metric: 'ip' (inner product), 'l2' (squared L2) or 'cosine' (normalized at add and search); the FAISS ints
        METRIC_INNER_PRODUCT (0) and METRIC_L2 (1) work too.
    estimator: rerank estimator: 'renorm' (‖x‖·<Πq, ŷ>/ρ, default), 'mse' (‖x‖·<Πq, ŷ>) or 'qjl' (unbiased).
    qjl: store the 1-bit QJL residual sketch (+d bits, +4 bytes per vector); default: estimator == 'qjl'.
    renorm: store ρ (+4 bytes per vector); default: estimator == 'renorm'.
    rotation: 'hadamard' (O(d log d), default) or 'dense' (Haar, O(d²), reference).
    seed: rotation seed (default: the library's fixed seed, so codes are reproducible).
    fp16_norm: store ‖x‖ (or the folded scale) as float16 (2 bytes instead of 4).
    fold_renorm: store only the renormalized estimator's scale ‖x‖/ρ instead of ‖x‖ and ρ (4 bytes less; with
        fp16_norm a vector costs its mse bits + 2 bytes). Needs the 'renorm' estimator and metric 'ip' or 'cosine'.
    center: learn a mean vector μ in train() and store codes of x − μ (better recall on data far from the origin,
        e.g. SIFT); the index then needs train() before add(). Distances stay exact in meaning for every metric.
        For L2 and cosine (cosine ranks as L2 on centered unit vectors and refuses zero rows; with fold_renorm it
        keeps the inner-product form); with inner product only when the mean is small.
    optimize_cosine: choose each code to maximize its cosine with the rotated vector (needs the 'renorm'
        estimator; encode 5-20x slower; helps at 3-4 bits).
    rerank_factor, rerank_min, qjl_prune_z, query_batch, prefix_z, lut_max, lut_z: search defaults (see
        set_search_params).
    scan_bits: scan layout: -1 the recommended one (full codes up to 4 bits, a 2-bit prefix above), 0 the full
        codes, 1..4 a prefix scan with that many bits per coordinate, bounded by prefix_z (e.g. bits=4,
        scan_bits=2: two coordinates per lookup, half the lookups; lower prefix_z = faster, less recall).)doc");
  cls.def_property_readonly("bits", [](const IndexTurboQuant& s) { return s.options().quantizer.bits; },
                            "mse bits per coordinate.")
      .def_property_readonly("estimator", [](const IndexTurboQuant& s) {
        return estimator_name(s.options().search.estimator); }, "Default rerank estimator.")
      .def_property_readonly("qjl", [](const IndexTurboQuant& s) { return s.options().quantizer.qjl; },
                             "Whether the QJL sketch is stored.")
      .def_property_readonly("renorm", [](const IndexTurboQuant& s) { return s.options().quantizer.store_renorm; },
                             "Whether ρ is stored.")
      .def_property_readonly("fp16_norm", [](const IndexTurboQuant& s) { return s.options().quantizer.fp16_norm; },
                             "Whether the per-vector norm (or folded scale) is stored as float16.")
      .def_property_readonly("fold_renorm",
                             [](const IndexTurboQuant& s) { return s.options().quantizer.fold_renorm; },
                             "Whether rows store only ‖x‖/ρ (the renormalized estimator's scale) instead of ‖x‖ and ρ.")
      .def_property_readonly("center", [](const IndexTurboQuant& s) { return s.options().center; },
                             "Whether codes are of x − μ (centering; train() computes μ).")
      .def_property_readonly("optimize_cosine",
                             [](const IndexTurboQuant& s) { return s.options().quantizer.optimize_cosine; },
                             "Whether codes maximize the cosine with the rotated vector.")
      .def_property_readonly("mean", [](const IndexTurboQuant& s) -> py::object {
        if (s.mean().empty()) return py::none();
        py::array_t<float> out(py::ssize_t(s.d));
        std::copy(s.mean().begin(), s.mean().end(), out.mutable_data());
        return out;
      }, "μ as a float32 array of shape (d,), or None (no centering, or not trained yet).")
      .def_property_readonly("bits_per_vector", [](const IndexTurboQuant& s) { return 8.0 * double(s.code_size); },
                             "Stored bits per vector, all sections (codes, norm, ρ, sketch).")
      .def_property_readonly("bytes_per_vector", [](const IndexTurboQuant& s) { return s.code_size; },
                             "Stored bytes per vector (= code_size).")
      .def_property_readonly("scan_bits", [](const IndexTurboQuant& s) { return s.scanner().layout().scan_bits; },
                             "Scan layout: 0 = the full codes, 1..4 = prefix scan with at most that many bits per coordinate.")
      .def_property_readonly("search_params", [](const IndexTurboQuant& s) {
        const FlatSearchParams& p = s.options().search;
        py::dict d;
        d["estimator"] = estimator_name(p.estimator);
        d["rerank_factor"] = p.rerank_factor;
        d["rerank_min"] = p.rerank_min;
        d["qjl_prune_z"] = p.qjl_prune_z;
        d["query_batch"] = p.query_batch;
        d["prefix_z"] = p.prefix_z;
        d["lut_max"] = p.lut_max;
        d["lut_z"] = p.lut_z;
        return d;
      }, "Default search parameters as a dict.")
      .def("set_search_params", &set_params, py::kw_only(), "estimator"_a = py::none(),
           "rerank_factor"_a = py::none(), "rerank_min"_a = py::none(), "qjl_prune_z"_a = py::none(),
           "query_batch"_a = py::none(), "prefix_z"_a = py::none(), "lut_max"_a = py::none(),
           "lut_z"_a = py::none(),
           R"doc(Change the default search parameters (arguments left None keep their value).

Args:
    estimator: 'mse', 'renorm' or 'qjl' (must be supported by the stored codes).
    rerank_factor: rescore the top k·rerank_factor scan candidates with the estimator (0 = scan estimate only).
    rerank_min: rescore at least this many candidates.
    qjl_prune_z: QJL: skip candidates more than z·σ below the k-th best (0 = never).
    query_batch: queries scanned together per pass over the codes.
    prefix_z: prefix scan layouts (scan_bits 1..4): a row is rescored with the full codes when its prefix score
        + z·(its bound on the gap to the full code) can still reach the k-th best; larger z: more rows rescored,
        fewer misses (2: recall of the full scan on GloVe and SIFT; 0: fastest).
    lut_max: largest uint8 LUT entry of the scan: 255 (finest, default), 127 or 63 (the kernel adds two or four
        lookups in 8 bits before widening: faster, 2x/4x coarser scan values). Below 255 the scan is bounded: with
        the full codes (mse or renorm estimator) a row is rescored with the full codes when its scan value +
        lut_z·σ (σ the spread of the LUT rounding) beats the k-th best, and rerank_factor does not apply; prefix
        layouts add lut_z·σ to their prefix bound (GloVe TQ4 scan_bits=2, prefix_z=0: lut_max=63 is the fastest
        setting at unchanged recall). Saved with the index; search(..., lut_max=...) overrides it per call.
    lut_z: z of that bound, finite and >= 0 (default 3; larger: more rows rescored, fewer misses). Saved with the
        index; search(..., lut_z=...) overrides it per call.)doc")
      .def(
          "add_sa_codes",
          [](IndexTurboQuant& self, py::handle codes) {
            ByteRows c = as_code_rows(codes, "codes", int64_t(self.code_size));
            py::gil_scoped_release release;
            if (c.shape(0) > 0) self.add_sa_codes(c.shape(0), c.data());
          },
          "codes"_a, "Append (n, code_size) uint8 codes made by sa_encode of an index with the same options.")
      .def("__repr__", [](const IndexTurboQuant& s) { return repr_of(s, "IndexTurboQuant"); });
}

// ------------------------------------------------------------------------------------------- FAISS wrappers

void bind_wrappers(py::module_& m) {
  py::class_<faiss::IndexIDMap, faiss::Index>(m, "IndexIDMap", R"doc(Adds 64-bit ids to any index (FAISS's IndexIDMap).

add_with_ids(x, ids) stores the ids; search returns them; remove_ids takes ids. The wrapped index must be
empty and stays owned by its Python object (kept alive as long as this one).)doc")
      .def(py::init([](faiss::Index* index) {
             if (index->ntotal != 0)
               throw tqsearch::Error("IndexIDMap: the wrapped index must be empty, it has " +
                                     std::to_string(index->ntotal) + " vectors");
             return std::make_unique<faiss::IndexIDMap>(index);
           }),
           "index"_a.none(false), py::keep_alive<1, 2>(), "Wrap an empty index.")
      .def_property_readonly("index", [](faiss::IndexIDMap& s) { return s.index; },
                             py::return_value_policy::reference_internal, "The wrapped index.")
      .def_property_readonly("id_map", [](const faiss::IndexIDMap& s) {
        py::array_t<int64_t> out(py::ssize_t(s.id_map.size()));
        std::copy(s.id_map.begin(), s.id_map.end(), out.mutable_data());
        return out;
      }, "(ntotal,) int64 ids of rows 0..ntotal-1 (a copy).")
      .def("__repr__", [](const faiss::IndexIDMap& s) { return repr_of(s, "IndexIDMap"); });

  py::class_<faiss::IndexIDMap2, faiss::IndexIDMap>(m, "IndexIDMap2",
      "IndexIDMap that also keeps id → row, so reconstruct(id) works (FAISS's IndexIDMap2).")
      .def(py::init([](faiss::Index* index) {
             if (index->ntotal != 0)
               throw tqsearch::Error("IndexIDMap2: the wrapped index must be empty, it has " +
                                     std::to_string(index->ntotal) + " vectors");
             return std::make_unique<faiss::IndexIDMap2>(index);
           }),
           "index"_a.none(false), py::keep_alive<1, 2>(), "Wrap an empty index.")
      .def("__repr__", [](const faiss::IndexIDMap2& s) { return repr_of(s, "IndexIDMap2"); });

  py::class_<faiss::IndexRefine, faiss::Index>(m, "IndexRefine",
      "Search base_index for k·k_factor candidates, then rerank them with refine_index (FAISS's IndexRefine).")
      .def_property_readonly("base_index", [](faiss::IndexRefine& s) { return s.base_index; },
                             py::return_value_policy::reference_internal, "The index searched first.")
      .def_property_readonly("refine_index", [](faiss::IndexRefine& s) { return s.refine_index; },
                             py::return_value_policy::reference_internal, "The index that reranks.")
      .def_property(
          "k_factor", [](const faiss::IndexRefine& s) { return s.k_factor; },
          [](faiss::IndexRefine& s, float v) {
            if (!(v >= 1) || !std::isfinite(v))
              throw py::value_error("k_factor must be a finite number >= 1, got " + std::to_string(v));
            s.k_factor = v;
          },
          "Candidates reranked per result (>= 1).")
      .def("__repr__", [](const faiss::IndexRefine& s) { return repr_of(s, "IndexRefine"); });

  py::class_<faiss::IndexRefineFlat, faiss::IndexRefine>(m, "IndexRefineFlat",
      "IndexRefine whose refine index keeps the raw float32 vectors (exact rerank).")
      .def(py::init([](faiss::Index* base, float k_factor) {
             if (base->ntotal != 0)
               throw tqsearch::Error("IndexRefineFlat: the base index must be empty, it has " +
                                     std::to_string(base->ntotal) + " vectors");
             if (!(k_factor >= 1)) throw py::value_error("k_factor must be >= 1, got " + std::to_string(k_factor));
             auto r = std::make_unique<faiss::IndexRefineFlat>(base);
             r->k_factor = k_factor;
             return r;
           }),
           "base_index"_a.none(false), "k_factor"_a = 4.0f, py::keep_alive<1, 2>(), "Wrap an empty base index.")
      .def("__repr__", [](const faiss::IndexRefineFlat& s) { return repr_of(s, "IndexRefineFlat"); });

  py::class_<faiss::IndexHNSW, faiss::Index>(m, "IndexHNSW",
      "HNSW graph over a storage index (e.g. TurboQuant codes: index_factory(d, 'HNSW32,TQ4')).")
      .def_property_readonly("storage", [](faiss::IndexHNSW& s) { return s.storage; },
                             py::return_value_policy::reference_internal, "The index holding the vectors.")
      .def_property(
          "efSearch", [](const faiss::IndexHNSW& s) { return s.hnsw.efSearch; },
          [](faiss::IndexHNSW& s, int v) {
            if (v < 1) throw py::value_error("efSearch must be >= 1, got " + std::to_string(v));
            s.hnsw.efSearch = v;
          },
          "Search-time beam width (larger: better recall, slower).")
      .def_property(
          "efConstruction", [](const faiss::IndexHNSW& s) { return s.hnsw.efConstruction; },
          [](faiss::IndexHNSW& s, int v) {
            if (v < 1) throw py::value_error("efConstruction must be >= 1, got " + std::to_string(v));
            s.hnsw.efConstruction = v;
          },
          "Build-time beam width (set before add).")
      .def("__repr__", [](const faiss::IndexHNSW& s) { return repr_of(s, "IndexHNSW"); });

  py::class_<faiss::IndexPreTransform, faiss::Index>(m, "IndexPreTransform",
      "Applies a vector transform (e.g. normalization for cosine) before the wrapped index.")
      .def_property_readonly("index", [](faiss::IndexPreTransform& s) { return s.index; },
                             py::return_value_policy::reference_internal, "The wrapped index.")
      .def("__repr__", [](const faiss::IndexPreTransform& s) { return repr_of(s, "IndexPreTransform"); });
}

}  // namespace

void bind_indexes(py::module_& m) {
  bind_index_base(m);
  bind_index_turbo_quant(m);
  bind_wrappers(m);
  m.def(
      "index_factory",
      [](int d, const std::string& description, py::handle metric) -> std::unique_ptr<faiss::Index> {
        const IndexMetric mt = parse_metric(metric);
        return index_factory(d, description, mt);
      },
      "d"_a, "description"_a, "metric"_a = "l2",
      R"doc(Build an index from a description string, like faiss.index_factory, with TurboQuant types.

Grammar: [IDMap|IDMap2,][HNSW<M>,]TQ<rate>[,Renorm|,MSE|,QJL][,Dense][,RFlat]
e.g. "TQ4", "TQ2.5", "TQ3,QJL" (3 mse bits + 1 QJL bit), "TQ4,MSE", "IDMap,TQ4", "HNSW32,TQ4", "TQ4,RFlat".
Descriptions without a TQ token go to FAISS's own factory ("Flat", "PQ32", "HNSW32,Flat", ...).

Args:
    d: dimension.
    description: see above.
    metric: 'l2' (default, as FAISS), 'ip' or 'cosine'; or the FAISS ints 0 (inner product) / 1 (L2).

Returns:
    The index, as its most specific class (IndexTurboQuant, IndexIDMap, IndexRefineFlat, IndexHNSW, ... or Index).
Raises:
    tqsearch.Error naming the offending token and the grammar.)doc");
}

}  // namespace tqsearch::python
