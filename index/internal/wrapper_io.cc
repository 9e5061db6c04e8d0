// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Records of the FAISS wrappers that may hold an IndexTurboQuant (FAISS's writer cannot serialize unknown
// sub-indexes). Each record (format version 1):
//   section base: i64 d, i64 ntotal, u32 metric_type, f32 metric_arg, u8 is_trained
//   wrapper-specific sections, then the sub-indexes through write_child_index (their own records).
#include <cmath>
#include <cstring>
#include <new>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexShards.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include "index/internal/index_io_registry.h"
#include "quant/error.h"

namespace tqsearch::internal {

namespace {

constexpr int64_t kMaxRows = int64_t(1) << 40;
constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr uint64_t kMaxSmallSection = 4096;
constexpr uint32_t kMaxShards = 1u << 16;
constexpr uint32_t kMaxTransforms = 64;
constexpr int kMaxHnswLevels = 64;

struct IndexBase {
  int64_t d = 0;
  int64_t ntotal = 0;
  faiss::MetricType metric = faiss::METRIC_L2;
  float metric_arg = 0;
  bool is_trained = true;
};

void write_base(const faiss::Index& index, StreamWriter& out) {
  ByteSink s;
  s.put_i64(index.d);
  s.put_i64(index.ntotal);
  s.put_u32(uint32_t(index.metric_type));
  s.put_f32(index.metric_arg);
  s.put_u8(index.is_trained);
  out.write_section(s);
}

IndexBase read_base(StreamReader& in, const char* what) {
  const std::vector<uint8_t> b = in.read_section(what, kMaxSmallSection);
  ByteSource s(b, what);
  IndexBase r;
  r.d = s.get_i64();
  r.ntotal = s.get_i64();
  const uint32_t metric = s.get_u32();
  r.metric_arg = s.get_f32();
  r.is_trained = s.get_bool();
  s.expect_end();
  TQ_CHECK(r.d >= 1 && r.d <= kMaxDim, "read_index: corrupt file: " << what << " dimension " << r.d);
  TQ_CHECK(r.ntotal >= 0 && r.ntotal <= kMaxRows, "read_index: corrupt file: " << what << " ntotal " << r.ntotal);
  TQ_CHECK(metric == uint32_t(faiss::METRIC_INNER_PRODUCT) || metric == uint32_t(faiss::METRIC_L2),
           "read_index: corrupt file: " << what << " metric type " << metric << " (allowed 0 ip, 1 l2)");
  r.metric = faiss::MetricType(metric);
  return r;
}

void apply_base(const IndexBase& b, faiss::Index& index) {
  index.d = int(b.d);
  index.ntotal = b.ntotal;
  index.metric_type = b.metric;
  index.metric_arg = b.metric_arg;
  index.is_trained = b.is_trained;
}

void check_child(const IndexBase& b, const faiss::Index& child, const char* what) {
  TQ_CHECK(child.d == b.d, "read_index: corrupt file: " << what << " has d = " << b.d << " but its sub-index has d = "
                                                         << child.d);
  TQ_CHECK(child.metric_type == b.metric, "read_index: corrupt file: " << what << " metric differs from its sub-index");
}

template <class T>
void write_array(const std::vector<T>& v, StreamWriter& out) {
  out.write_section(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T));
}

template <class T>
std::vector<T> read_array(StreamReader& in, const char* what, uint64_t max_count,
                          uint64_t exact_count = StreamReader::kAnyLength) {
  const uint64_t exact =
      exact_count == StreamReader::kAnyLength ? StreamReader::kAnyLength : exact_count * sizeof(T);
  const std::vector<uint8_t> b = in.read_section(what, max_count * sizeof(T), exact);
  TQ_CHECK(b.size() % sizeof(T) == 0, "read_index: corrupt file: " << what << " has " << b.size()
                                                                   << " bytes, not a multiple of " << sizeof(T));
  std::vector<T> v(b.size() / sizeof(T));
  if (!b.empty()) std::memcpy(v.data(), b.data(), b.size());
  return v;
}

template <class F>
auto translate_faiss(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("read_index: corrupt file: " << what << ": " << ex.what());
  } catch (const std::bad_alloc&) {
    TQ_THROW("read_index: corrupt file: " << what << ": sizes cannot be allocated");
  }
}

/// Reads isThreaded_ (protected in faiss::ThreadedIndex) without modifying FAISS.
struct ShardsAccess : faiss::IndexShards {
  static bool threaded(const faiss::IndexShards& s) { return s.*(&ShardsAccess::isThreaded_); }
};

}  // namespace

// ---------------------------------------------------------------- IndexIDMap / IndexIDMap2 ("TqIM", "TqI2")

std::vector<const faiss::Index*> id_map_children(const faiss::Index& index) {
  return {dynamic_cast<const faiss::IndexIDMap&>(index).index};
}

void write_id_map(const faiss::Index& index, StreamWriter& out) {
  const auto& m = dynamic_cast<const faiss::IndexIDMap&>(index);
  TQ_CHECK(m.index != nullptr, "write_index: IndexIDMap has no sub-index");
  TQ_CHECK(m.id_map.size() == size_t(m.ntotal), "write_index: IndexIDMap id_map size differs from ntotal");
  write_base(m, out);
  write_array(m.id_map, out);
  write_child_index(*m.index, out);
}

void write_id_map2(const faiss::Index& index, StreamWriter& out) { write_id_map(index, out); }

namespace {
template <class MapT>
std::unique_ptr<faiss::Index> read_id_map_impl(StreamReader& in, int depth, const char* what) {
  const IndexBase b = read_base(in, what);
  std::vector<faiss::Index::idx_t> ids = read_array<faiss::Index::idx_t>(in, "IndexIDMap ids", uint64_t(b.ntotal), uint64_t(b.ntotal));
  std::unique_ptr<faiss::Index> child = read_child_index(in, depth);
  check_child(b, *child, what);
  TQ_CHECK(child->ntotal == b.ntotal, "read_index: corrupt file: " << what << " maps " << b.ntotal
                                                                  << " ids but its sub-index holds " << child->ntotal);
  auto m = std::make_unique<MapT>();
  apply_base(b, *m);
  m->id_map = std::move(ids);
  m->index = child.release();
  m->own_fields = true;
  return m;
}
}  // namespace

std::unique_ptr<faiss::Index> read_id_map(StreamReader& in, uint32_t /*version*/, int depth) {
  return read_id_map_impl<faiss::IndexIDMap>(in, depth, "IndexIDMap");
}

std::unique_ptr<faiss::Index> read_id_map2(StreamReader& in, uint32_t /*version*/, int depth) {
  auto idx = read_id_map_impl<faiss::IndexIDMap2>(in, depth, "IndexIDMap2");
  auto* m2 = static_cast<faiss::IndexIDMap2*>(idx.get());
  translate_faiss("IndexIDMap2 reverse map", [&] { m2->construct_rev_map(); });
  TQ_CHECK(m2->rev_map.size() == m2->id_map.size(), "read_index: corrupt file: IndexIDMap2 has duplicate ids");
  return idx;
}

// ---------------------------------------------------------------- IndexRefine / IndexRefineFlat ("TqRf", "TqRF")

std::vector<const faiss::Index*> refine_children(const faiss::Index& index) {
  const auto& r = dynamic_cast<const faiss::IndexRefine&>(index);
  return {r.base_index, r.refine_index};
}

void write_refine(const faiss::Index& index, StreamWriter& out) {
  const auto& r = dynamic_cast<const faiss::IndexRefine&>(index);
  TQ_CHECK(r.base_index != nullptr && r.refine_index != nullptr, "write_index: IndexRefine has a null sub-index");
  write_base(r, out);
  ByteSink s;
  s.put_f32(r.k_factor);
  out.write_section(s);
  write_child_index(*r.base_index, out);
  write_child_index(*r.refine_index, out);
}

void write_refine_flat(const faiss::Index& index, StreamWriter& out) { write_refine(index, out); }

namespace {
template <class RefineT>
std::unique_ptr<faiss::Index> read_refine_impl(StreamReader& in, int depth, const char* what) {
  const IndexBase b = read_base(in, what);
  const std::vector<uint8_t> pb = in.read_section("IndexRefine parameters", kMaxSmallSection);
  ByteSource p(pb, "IndexRefine parameters");
  const float k_factor = p.get_f32();
  p.expect_end();
  TQ_CHECK(std::isfinite(k_factor) && k_factor >= 1 && k_factor <= 1e6,
           "read_index: corrupt file: " << what << " k_factor " << k_factor << " (allowed 1..1e6)");
  std::unique_ptr<faiss::Index> base = read_child_index(in, depth);
  std::unique_ptr<faiss::Index> refine = read_child_index(in, depth);
  check_child(b, *base, what);
  check_child(b, *refine, what);
  TQ_CHECK(base->ntotal == b.ntotal && refine->ntotal == b.ntotal,
           "read_index: corrupt file: " << what << " holds " << b.ntotal << " vectors but its sub-indexes hold "
                                        << base->ntotal << " and " << refine->ntotal);
  if constexpr (std::is_same_v<RefineT, faiss::IndexRefineFlat>) {
    TQ_CHECK(dynamic_cast<const faiss::IndexFlat*>(refine.get()) != nullptr,
             "read_index: corrupt file: IndexRefineFlat's refine index is not an IndexFlat");
  }
  auto r = std::make_unique<RefineT>();
  apply_base(b, *r);
  r->k_factor = k_factor;
  r->base_index = base.release();
  r->refine_index = refine.release();
  r->own_fields = true;
  r->own_refine_index = true;
  return r;
}
}  // namespace

std::unique_ptr<faiss::Index> read_refine(StreamReader& in, uint32_t /*version*/, int depth) {
  return read_refine_impl<faiss::IndexRefine>(in, depth, "IndexRefine");
}

std::unique_ptr<faiss::Index> read_refine_flat(StreamReader& in, uint32_t /*version*/, int depth) {
  return read_refine_impl<faiss::IndexRefineFlat>(in, depth, "IndexRefineFlat");
}

// ---------------------------------------------------------------- IndexHNSW ("TqHN")
// sections: parameters (i32 efConstruction, i32 efSearch, i32 upper_beam, u8 check_relative_distance,
// u8 search_bounded_queue, i32 max_level, i32 entry_point), assign_probas f64[], cum_nneighbor_per_level i32[],
// levels i32[ntotal], offsets u64[ntotal + 1], neighbors i32[offsets[ntotal]]; then the storage.

std::vector<const faiss::Index*> hnsw_children(const faiss::Index& index) {
  return {dynamic_cast<const faiss::IndexHNSW&>(index).storage};
}

void write_hnsw(const faiss::Index& index, StreamWriter& out) {
  const auto& h = dynamic_cast<const faiss::IndexHNSW&>(index);
  TQ_CHECK(h.storage != nullptr, "write_index: IndexHNSW has no storage");
  TQ_CHECK(h.reconstruct_from_neighbors == nullptr,
           "write_index: IndexHNSW with reconstruct_from_neighbors is not supported");
  write_base(h, out);
  const faiss::HNSW& g = h.hnsw;
  ByteSink s;
  s.put_i32(g.efConstruction);
  s.put_i32(g.efSearch);
  s.put_i32(g.upper_beam);
  s.put_u8(g.check_relative_distance);
  s.put_u8(g.search_bounded_queue);
  s.put_i32(g.max_level);
  s.put_i32(g.entry_point);
  out.write_section(s);
  write_array(g.assign_probas, out);
  write_array(g.cum_nneighbor_per_level, out);
  write_array(g.levels, out);
  std::vector<uint64_t> offsets(g.offsets.begin(), g.offsets.end());
  write_array(offsets, out);
  write_array(g.neighbors, out);
  write_child_index(*h.storage, out);
}

std::unique_ptr<faiss::Index> read_hnsw(StreamReader& in, uint32_t /*version*/, int depth) {
  const IndexBase b = read_base(in, "IndexHNSW");
  const std::vector<uint8_t> pb = in.read_section("IndexHNSW parameters", kMaxSmallSection);
  ByteSource p(pb, "IndexHNSW parameters");
  const int ef_construction = p.get_i32();
  const int ef_search = p.get_i32();
  const int upper_beam = p.get_i32();
  const bool check_relative = p.get_bool();
  const bool bounded_queue = p.get_bool();
  const int max_level = p.get_i32();
  const int entry_point = p.get_i32();
  p.expect_end();
  TQ_CHECK(ef_construction >= 1 && ef_search >= 1 && upper_beam >= 1,
           "read_index: corrupt file: IndexHNSW efConstruction/efSearch/upper_beam must be >= 1");
  const auto n = uint64_t(b.ntotal);
  TQ_CHECK(n <= uint64_t(INT32_MAX), "read_index: corrupt file: IndexHNSW ntotal " << n << " exceeds int32");

  auto probas = read_array<double>(in, "HNSW assign_probas", kMaxHnswLevels);
  auto cum = read_array<int>(in, "HNSW cum_nneighbor_per_level", kMaxHnswLevels + 1);
  TQ_CHECK(!cum.empty() && cum[0] == 0, "read_index: corrupt file: HNSW cum_nneighbor_per_level must start at 0");
  for (size_t i = 1; i < cum.size(); ++i) {
    TQ_CHECK(cum[i] >= cum[i - 1] && cum[i] - cum[i - 1] <= 65536,
             "read_index: corrupt file: HNSW cum_nneighbor_per_level is not a valid cumulative count");
  }
  for (double pr : probas) {
    TQ_CHECK(std::isfinite(pr) && pr >= 0 && pr <= 1, "read_index: corrupt file: HNSW level probability " << pr);
  }
  auto levels = read_array<int>(in, "HNSW levels", n, n);
  auto offsets = read_array<uint64_t>(in, "HNSW offsets", n + 1, n + 1);
  TQ_CHECK(offsets[0] == 0, "read_index: corrupt file: HNSW offsets must start at 0");
  for (uint64_t i = 0; i < n; ++i) {
    const int l = levels[i];
    TQ_CHECK(l >= 1 && size_t(l) < cum.size(),
             "read_index: corrupt file: HNSW level " << l << " of vertex " << i << " (allowed 1.." << cum.size() - 1
                                                     << ")");
    TQ_CHECK(offsets[i + 1] >= offsets[i] && offsets[i + 1] - offsets[i] == uint64_t(cum[size_t(l)]),
             "read_index: corrupt file: HNSW neighbor offsets of vertex " << i << " do not match its level");
  }
  auto neighbors = read_array<int>(in, "HNSW neighbors", offsets[n], offsets[n]);
  for (int nb : neighbors) {
    TQ_CHECK(nb >= -1 && int64_t(nb) < b.ntotal, "read_index: corrupt file: HNSW neighbor id " << nb
                                                                                              << " out of range");
  }
  if (n == 0) {
    TQ_CHECK(entry_point == -1, "read_index: corrupt file: empty IndexHNSW has entry point " << entry_point);
  } else {
    TQ_CHECK(entry_point >= 0 && uint64_t(entry_point) < n,
             "read_index: corrupt file: HNSW entry point " << entry_point << " out of range");
    TQ_CHECK(max_level == levels[size_t(entry_point)] - 1,
             "read_index: corrupt file: HNSW max_level " << max_level << " differs from the entry point's level");
  }
  std::unique_ptr<faiss::Index> storage = read_child_index(in, depth);
  check_child(b, *storage, "IndexHNSW");
  TQ_CHECK(storage->ntotal == b.ntotal, "read_index: corrupt file: IndexHNSW has " << b.ntotal
                                                                                  << " vertices but its storage holds "
                                                                                  << storage->ntotal);
  auto h = std::make_unique<faiss::IndexHNSW>(int(b.d), 32, b.metric);
  apply_base(b, *h);
  faiss::HNSW& g = h->hnsw;
  g.efConstruction = ef_construction;
  g.efSearch = ef_search;
  g.upper_beam = upper_beam;
  g.check_relative_distance = check_relative;
  g.search_bounded_queue = bounded_queue;
  g.max_level = max_level;
  g.entry_point = entry_point;
  g.assign_probas = std::move(probas);
  g.cum_nneighbor_per_level = std::move(cum);
  g.levels = std::move(levels);
  g.offsets.assign(offsets.begin(), offsets.end());
  g.neighbors = std::move(neighbors);
  h->storage = storage.release();
  h->own_fields = true;
  return h;
}

// ---------------------------------------------------------------- IndexShards ("TqSh")
// sections: parameters (u8 threaded, u8 successive_ids, u32 count); then count sub-indexes.

std::vector<const faiss::Index*> shards_children(const faiss::Index& index) {
  const auto& s = dynamic_cast<const faiss::IndexShards&>(index);
  std::vector<const faiss::Index*> c;
  for (int i = 0; i < s.count(); ++i) c.push_back(s.at(i));
  return c;
}

void write_shards(const faiss::Index& index, StreamWriter& out) {
  const auto& s = dynamic_cast<const faiss::IndexShards&>(index);
  write_base(s, out);
  ByteSink p;
  p.put_u8(ShardsAccess::threaded(s));
  p.put_u8(s.successive_ids);
  p.put_u32(uint32_t(s.count()));
  out.write_section(p);
  for (int i = 0; i < s.count(); ++i) write_child_index(*s.at(i), out);
}

std::unique_ptr<faiss::Index> read_shards(StreamReader& in, uint32_t /*version*/, int depth) {
  const IndexBase b = read_base(in, "IndexShards");
  const std::vector<uint8_t> pb = in.read_section("IndexShards parameters", kMaxSmallSection);
  ByteSource p(pb, "IndexShards parameters");
  const bool threaded = p.get_bool();
  const bool successive_ids = p.get_bool();
  const uint32_t count = p.get_u32();
  p.expect_end();
  TQ_CHECK(count <= kMaxShards, "read_index: corrupt file: IndexShards has " << count << " shards");
  auto s = std::make_unique<faiss::IndexShards>(int(b.d), threaded, successive_ids);
  s->own_fields = true;
  for (uint32_t i = 0; i < count; ++i) {
    std::unique_ptr<faiss::Index> child = read_child_index(in, depth);
    check_child(b, *child, "IndexShards");
    translate_faiss("IndexShards shard", [&] { s->add_shard(child.get()); });
    child.release();
  }
  apply_base(b, *s);
  int64_t total = 0;
  for (int i = 0; i < s->count(); ++i) total += s->at(i)->ntotal;
  TQ_CHECK(total == b.ntotal, "read_index: corrupt file: IndexShards holds " << b.ntotal << " vectors but its shards "
                                                                             << total);
  return s;
}

// ---------------------------------------------------------------- IndexPreTransform ("TqPT")
// sections: transforms (u32 count, then FAISS's VectorTransform records); then the sub-index.

std::vector<const faiss::Index*> pre_transform_children(const faiss::Index& index) {
  return {dynamic_cast<const faiss::IndexPreTransform&>(index).index};
}

void write_pre_transform(const faiss::Index& index, StreamWriter& out) {
  const auto& t = dynamic_cast<const faiss::IndexPreTransform&>(index);
  TQ_CHECK(t.index != nullptr, "write_index: IndexPreTransform has no sub-index");
  write_base(t, out);
  faiss::VectorIOWriter buf;
  const auto count = uint32_t(t.chain.size());
  buf(&count, 4, 1);
  try {
    for (const faiss::VectorTransform* vt : t.chain) faiss::write_VectorTransform(vt, &buf);
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("write_index: FAISS cannot serialize a transform of IndexPreTransform: " << ex.what());
  }
  out.write_section(buf.data.data(), buf.data.size());
  write_child_index(*t.index, out);
}

std::unique_ptr<faiss::Index> read_pre_transform(StreamReader& in, uint32_t /*version*/, int depth) {
  const IndexBase b = read_base(in, "IndexPreTransform");
  faiss::VectorIOReader buf;
  buf.data = in.read_section("IndexPreTransform transforms", uint64_t(1) << 40);
  buf.name = "IndexPreTransform transforms";
  uint32_t count = 0;
  TQ_CHECK(buf(&count, 4, 1) == 1 && count <= kMaxTransforms,
           "read_index: corrupt file: IndexPreTransform transform count " << count);
  auto t = std::make_unique<faiss::IndexPreTransform>();
  t->own_fields = true;
  for (uint32_t i = 0; i < count; ++i) {
    faiss::VectorTransform* vt =
        translate_faiss("IndexPreTransform transform", [&] { return faiss::read_VectorTransform(&buf); });
    t->chain.push_back(vt);  // owned by t from here on
  }
  TQ_CHECK(buf.rp == buf.data.size(), "read_index: corrupt file: IndexPreTransform transforms have trailing bytes");
  std::unique_ptr<faiss::Index> child = read_child_index(in, depth);
  TQ_CHECK(child->ntotal == b.ntotal, "read_index: corrupt file: IndexPreTransform holds "
                                          << b.ntotal << " vectors but its sub-index " << child->ntotal);
  int64_t dim = b.d;
  for (const faiss::VectorTransform* vt : t->chain) {
    TQ_CHECK(vt->d_in == dim, "read_index: corrupt file: IndexPreTransform transform input dimension "
                                  << vt->d_in << " does not follow " << dim);
    dim = vt->d_out;
  }
  TQ_CHECK(child->d == dim, "read_index: corrupt file: IndexPreTransform output dimension " << dim
                                                                                            << " differs from the "
                                                                                               "sub-index's "
                                                                                            << child->d);
  TQ_CHECK(child->metric_type == b.metric, "read_index: corrupt file: IndexPreTransform metric differs from its "
                                           "sub-index");
  apply_base(b, *t);
  t->index = child.release();
  return t;
}

}  // namespace tqsearch::internal
