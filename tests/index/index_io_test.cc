// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// write_index / read_index: round trips of IndexTurboQuant and of every FAISS wrapper holding it, FAISS types
// delegated to FAISS, atomic saves, and clear errors on empty / truncated / corrupt / foreign / future files.

#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexReplicas.h>
#include <faiss/IndexShards.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include "index/index_io.h"
#include "index/index_turbo_quant.h"
#include "index/internal/byte_stream.h"
#include "index_test_util.h"
#include "quant/error.h"

namespace tqsearch {
namespace {

using idx_t = faiss::Index::idx_t;
constexpr uint64_t kSeed = 4242;

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tqsearch_io_test_XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    for (const std::string& f : files()) std::remove((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
      }
      ::closedir(d);
    }
    return out;
  }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

const testing::Dataset& data() {
  static const testing::Dataset ds = testing::make_clustered(40, 1500, 12, 12, kSeed);
  return ds;
}

struct Result {
  std::vector<float> D;
  std::vector<idx_t> I;
};

Result run_search(const faiss::Index& index, int k = 10) {
  const auto& ds = data();
  Result r{std::vector<float>(ds.nq * k), std::vector<idx_t>(ds.nq * k)};
  index.search(idx_t(ds.nq), ds.queries.data(), k, r.D.data(), r.I.data());
  return r;
}

/// Saves to a file, loads, and checks identical search results, type and ntotal. Returns the loaded index.
std::unique_ptr<faiss::Index> round_trip(const faiss::Index& index, const TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name);
  tqsearch::write_index(&index, path.c_str());
  std::unique_ptr<faiss::Index> back = tqsearch::read_index(path.c_str());
  EXPECT_EQ(typeid(*back), typeid(index)) << name;
  EXPECT_EQ(back->ntotal, index.ntotal) << name;
  EXPECT_EQ(back->d, index.d) << name;
  EXPECT_EQ(back->metric_type, index.metric_type) << name;
  const Result a = run_search(index), b = run_search(*back);
  EXPECT_EQ(a.I, b.I) << name;
  EXPECT_EQ(a.D, b.D) << name;
  // Same bytes through the IOWriter / IOReader overloads.
  faiss::VectorIOWriter w;
  tqsearch::write_index(&index, &w);
  EXPECT_EQ(w.data, read_bytes(path)) << name;
  faiss::VectorIOReader r;
  r.data = w.data;
  std::unique_ptr<faiss::Index> back2 = tqsearch::read_index(&r);
  EXPECT_EQ(run_search(*back2).I, a.I) << name;
  return back;
}

std::unique_ptr<IndexTurboQuant> filled_tq(IndexMetric m, const IndexTurboQuantOptions& o = {}) {
  const auto& ds = data();
  auto tq = std::make_unique<IndexTurboQuant>(ds.d, m, o);
  tq->add(idx_t(ds.nb), ds.base.data());
  return tq;
}

TEST(IndexIo, TurboQuantRoundTripKeepsEveryOption) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  IndexTurboQuantOptions o;
  o.quantizer.bits = 2.5;
  o.quantizer.rotation.seed = 987654321;
  o.quantizer.rotation.rounds = 5;
  o.quantizer.fp16_norm = true;
  o.quantizer.qjl = true;
  o.quantizer.qjl_kind = QjlKind::kGaussian;
  o.quantizer.qjl_seed = 31337;
  o.search.estimator = Estimator::kQjl;
  o.search.rerank_factor = 7;
  o.search.rerank_min = 3;
  o.search.qjl_prune_z = 2.5f;
  o.search.query_batch = 5;
  o.scan_bits = 2;  // format v3: the scan layout and the bounded-scan defaults
  o.search.prefix_z = 0.75f;
  o.search.lut_max = 127;
  o.search.lut_z = 1.5f;
  IndexTurboQuantOptions fold;  // format v4: ‖x‖/ρ in one f16 slot (IP / cosine only)
  fold.quantizer.fold_renorm = true;
  fold.quantizer.fp16_norm = true;
  fold.quantizer.bits = 3.5;
  fold.scan_bits = 2;
  IndexTurboQuantOptions dense;
  dense.quantizer.rotation.kind = RotationKind::kDense;
  dense.quantizer.bits = 8;
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kL2, IndexMetric::kCosine}) {
    for (const IndexTurboQuantOptions* opt : {&o, &dense, &fold}) {
      if (opt == &fold && m == IndexMetric::kL2) continue;  // refused (needs ‖x‖²): IndexTurboQuantFold tests
      auto tq = filled_tq(m, *opt);
      auto back = round_trip(*tq, dir, "tq.index");
      const auto* b = dynamic_cast<const IndexTurboQuant*>(back.get());
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(b->metric(), m);
      EXPECT_EQ(b->codes, tq->codes);
      const auto &qa = tq->options().quantizer, &qb = b->options().quantizer;
      EXPECT_EQ(qa.bits, qb.bits);
      EXPECT_EQ(qa.rotation.kind, qb.rotation.kind);
      EXPECT_EQ(qa.rotation.seed, qb.rotation.seed);
      EXPECT_EQ(qa.rotation.rounds, qb.rotation.rounds);
      EXPECT_EQ(qa.fp16_norm, qb.fp16_norm);
      EXPECT_EQ(qa.fold_renorm, qb.fold_renorm);
      EXPECT_EQ(qa.store_renorm, qb.store_renorm);
      EXPECT_EQ(qa.qjl, qb.qjl);
      EXPECT_EQ(qa.qjl_kind, qb.qjl_kind);
      EXPECT_EQ(qa.qjl_seed, qb.qjl_seed);
      const auto &sa = tq->options().search, &sb = b->options().search;
      EXPECT_EQ(sa.estimator, sb.estimator);
      EXPECT_EQ(sa.rerank_factor, sb.rerank_factor);
      EXPECT_EQ(sa.rerank_min, sb.rerank_min);
      EXPECT_EQ(sa.qjl_prune_z, sb.qjl_prune_z);
      EXPECT_EQ(sa.query_batch, sb.query_batch);
      EXPECT_EQ(sa.prefix_z, sb.prefix_z);
      EXPECT_EQ(sa.lut_max, sb.lut_max);
      EXPECT_EQ(sa.lut_z, sb.lut_z);
      EXPECT_EQ(tq->options().scan_bits, b->options().scan_bits);
      EXPECT_EQ(tq->scanner().layout().scan_bits, b->scanner().layout().scan_bits);
      EXPECT_EQ(b->scanner().layout().scan_bits, 2);  // o: Scan2; dense: 8-bit codes, recommended prefix 2
      // The loaded index keeps working: add more and search.
      auto* mut = const_cast<IndexTurboQuant*>(b);
      mut->add(3, data().base.data());
      EXPECT_EQ(mut->ntotal, tq->ntotal + 3);
    }
  }
  EXPECT_EQ(dir.files(), std::vector<std::string>{"tq.index"});  // no temporary files left behind
}

TEST(IndexIo, EmptyTurboQuantRoundTrip) {
  TempDir dir;
  IndexTurboQuant tq(data().d, IndexMetric::kL2);
  round_trip(tq, dir, "empty.index");
}

TEST(IndexIo, WrappersRoundTripWithIdenticalResults) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const auto& ds = data();
  std::vector<idx_t> ids(ds.nb);
  for (size_t i = 0; i < ds.nb; ++i) ids[i] = idx_t(10 * i + 3);
  {
    faiss::IndexIDMap m(new IndexTurboQuant(ds.d, IndexMetric::kL2));
    m.own_fields = true;
    m.add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data());
    auto back = round_trip(m, dir, "idmap.index");
    EXPECT_EQ(dynamic_cast<faiss::IndexIDMap&>(*back).id_map, m.id_map);
  }
  {
    faiss::IndexIDMap2 m(new IndexTurboQuant(ds.d));
    m.own_fields = true;
    m.add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data());
    auto back = round_trip(m, dir, "idmap2.index");
    std::vector<float> a(ds.d), b(ds.d);
    m.reconstruct(ids[5], a.data());
    back->reconstruct(ids[5], b.data());
    EXPECT_EQ(a, b);
  }
  {
    faiss::IndexRefineFlat r(new IndexTurboQuant(ds.d, IndexMetric::kL2));
    r.own_fields = true;
    r.k_factor = 3;
    r.add(idx_t(ds.nb), ds.base.data());
    auto back = round_trip(r, dir, "rflat.index");
    EXPECT_EQ(dynamic_cast<faiss::IndexRefine&>(*back).k_factor, 3.0f);
  }
  {
    faiss::IndexRefine r(new IndexTurboQuant(ds.d), new faiss::IndexFlatIP(ds.d));
    r.own_fields = true;
    r.own_refine_index = true;
    r.k_factor = 2;
    r.add(idx_t(ds.nb), ds.base.data());
    round_trip(r, dir, "refine.index");
  }
  for (IndexMetric m : {IndexMetric::kL2, IndexMetric::kInnerProduct, IndexMetric::kCosine}) {
    faiss::IndexHNSW h(new IndexTurboQuant(ds.d, m), 16);
    h.own_fields = true;
    h.add(idx_t(ds.nb), ds.base.data());
    h.hnsw.efSearch = 40;
    auto back = round_trip(h, dir, "hnsw.index");
    auto& hb = dynamic_cast<faiss::IndexHNSW&>(*back);
    EXPECT_EQ(hb.hnsw.neighbors, h.hnsw.neighbors);
    EXPECT_EQ(hb.hnsw.efSearch, 40);
    // Adding to the loaded graph works.
    hb.add(5, ds.base.data());
    EXPECT_EQ(hb.ntotal, h.ntotal + 5);
  }
  {
    faiss::IndexShards s(ds.d, false, true);
    s.own_fields = true;
    for (int i = 0; i < 3; ++i) s.add_shard(new IndexTurboQuant(ds.d, IndexMetric::kL2));
    s.add(idx_t(ds.nb), ds.base.data());
    auto back = round_trip(s, dir, "shards.index");
    EXPECT_EQ(dynamic_cast<faiss::IndexShards&>(*back).count(), 3);
  }
  {
    faiss::IndexPreTransform t(new faiss::NormalizationTransform(ds.d, 2.0f), new IndexTurboQuant(ds.d));
    t.own_fields = true;
    t.add(idx_t(ds.nb), ds.base.data());
    round_trip(t, dir, "pretransform.index");
  }
  {
    // Nesting: IDMap2 over HNSW over TQ; shards mixing a FAISS flat shard and a TQ shard.
    auto* h = new faiss::IndexHNSW(new IndexTurboQuant(ds.d, IndexMetric::kL2), 8);
    h->own_fields = true;
    faiss::IndexIDMap2 m(h);
    m.own_fields = true;
    m.add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data());
    round_trip(m, dir, "nested.index");
    faiss::IndexShards s(ds.d, true, true);
    s.own_fields = true;
    s.add_shard(new faiss::IndexFlatL2(ds.d));
    s.add_shard(new IndexTurboQuant(ds.d, IndexMetric::kL2));
    s.add(idx_t(ds.nb), ds.base.data());
    round_trip(s, dir, "mixed_shards.index");
  }
}

TEST(IndexIo, FaissOnlyIndexesAreWrittenByFaissAndStayReadableByFaiss) {
  TempDir dir;
  const auto& ds = data();
  faiss::IndexIDMap m(new faiss::IndexFlatL2(ds.d));
  m.own_fields = true;
  std::vector<idx_t> ids(ds.nb);
  for (size_t i = 0; i < ds.nb; ++i) ids[i] = idx_t(i * 2);
  m.add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data());
  round_trip(m, dir, "faiss.index");
  std::unique_ptr<faiss::Index> by_faiss(faiss::read_index(dir.file("faiss.index").c_str()));
  EXPECT_EQ(run_search(*by_faiss).I, run_search(m).I);
  // And files written by FAISS itself load through tqsearch::read_index.
  faiss::write_index(&m, dir.file("by_faiss.index").c_str());
  EXPECT_EQ(run_search(*tqsearch::read_index(dir.file("by_faiss.index").c_str())).I, run_search(m).I);
}

void expect_read_error(const std::string& path, const std::string& needle) {
  try {
    tqsearch::read_index(path.c_str());
    ADD_FAILURE() << "no error reading " << path << "; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(IndexIo, MissingEmptyAndForeignFilesGiveClearErrors) {
  TempDir dir;
  expect_read_error(dir.file("does_not_exist.index"), "cannot open");
  write_bytes(dir.file("empty.index"), {});
  expect_read_error(dir.file("empty.index"), "empty");
  write_bytes(dir.file("short.index"), {'T', 'q'});
  expect_read_error(dir.file("short.index"), "truncated");
  const std::string text = "this is not an index file at all\n";
  write_bytes(dir.file("text.index"), std::vector<uint8_t>(text.begin(), text.end()));
  expect_read_error(dir.file("text.index"), "not a tqsearch index");
}

TEST(IndexIo, EveryTruncationIsAnErrorNeverACrash) {
  TempDir dir;
  const auto& ds = data();
  // A nested file exercises every record type: IDMap → HNSW → TQ, and a Refine with an embedded FAISS flat.
  faiss::IndexRefineFlat r(new IndexTurboQuant(ds.d, IndexMetric::kL2));
  r.own_fields = true;
  r.add(200, ds.base.data());
  auto* h = new faiss::IndexHNSW(new IndexTurboQuant(ds.d, IndexMetric::kL2), 8);
  h->own_fields = true;
  faiss::IndexIDMap m(h);
  m.own_fields = true;
  std::vector<idx_t> ids(200);
  for (int i = 0; i < 200; ++i) ids[size_t(i)] = i * 3;
  m.add_with_ids(200, ds.base.data(), ids.data());
  for (const faiss::Index* idx : {static_cast<const faiss::Index*>(&r), static_cast<const faiss::Index*>(&m)}) {
    faiss::VectorIOWriter w;
    tqsearch::write_index(idx, &w);
    const std::vector<uint8_t> full = w.data;
    // Every prefix up to 600 bytes, then every 97th length.
    for (size_t len = 0; len < full.size(); len += (len < 600 ? 1 : 97)) {
      faiss::VectorIOReader rd;
      rd.data.assign(full.begin(), full.begin() + std::ptrdiff_t(len));
      EXPECT_THROW(tqsearch::read_index(&rd), Error) << "prefix of " << len << " of " << full.size() << " bytes";
    }
  }
}

TEST(IndexIo, CorruptBytesAreCaughtByChecksums) {
  TempDir dir;
  auto tq = filled_tq(IndexMetric::kL2);
  const std::string path = dir.file("tq.index");
  tqsearch::write_index(tq.get(), path.c_str());
  const std::vector<uint8_t> good = read_bytes(path);
  for (size_t pos : {size_t(20), size_t(40), good.size() / 2, good.size() - 12}) {
    std::vector<uint8_t> bad = good;
    bad[pos] ^= 0x10;
    write_bytes(path, bad);
    expect_read_error(path, "corrupt");
  }
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  write_bytes(path, trailing);
  expect_read_error(path, "trailing");
}

TEST(IndexIo, WrongFourccAndFutureVersionAreRefused) {
  TempDir dir;
  auto tq = filled_tq(IndexMetric::kInnerProduct);
  const std::string path = dir.file("tq.index");
  tqsearch::write_index(tq.get(), path.c_str());
  const std::vector<uint8_t> good = read_bytes(path);
  ASSERT_EQ(std::string(good.begin(), good.begin() + 4), "TqFl");
  std::vector<uint8_t> bad = good;
  std::memcpy(bad.data(), "QqFl", 4);
  write_bytes(path, bad);
  expect_read_error(path, "not a tqsearch index");
  bad = good;
  bad[4] = 5;  // format version 5: from the future
  write_bytes(path, bad);
  expect_read_error(path, "newer");
  bad[4] = 0;
  write_bytes(path, bad);
  expect_read_error(path, "version 0");
  // Same for a wrapper record and for a sub-index record inside it.
  faiss::IndexIDMap m(new IndexTurboQuant(data().d, IndexMetric::kL2));
  m.own_fields = true;
  std::vector<idx_t> ids(data().nb);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = idx_t(i) + 100;
  m.add_with_ids(idx_t(data().nb), data().base.data(), ids.data());
  faiss::VectorIOWriter w;
  tqsearch::write_index(&m, &w);
  std::vector<uint8_t> wb = w.data;
  ASSERT_EQ(std::string(wb.begin(), wb.begin() + 4), "TqIM");
  wb[4] = 9;
  write_bytes(path, wb);
  expect_read_error(path, "newer");
}

// The record write_index makes of `tq`, as format `version`, with its header section edited by `edit` (a valid
// checksum recomputed; the codes section copied as is). Header: u64 length, bytes, u64 checksum after fourcc and
// version; the header (as written, format v4) ends with the v3 fields i32 scan_bits, f32 prefix_z, i32 lut_max,
// f32 lut_z, then the v4 field u8 fold_renorm.
std::vector<uint8_t> record_with_header(const IndexTurboQuant& tq, uint32_t version,
                                        const std::function<void(std::vector<uint8_t>&)>& edit) {
  faiss::VectorIOWriter w3;
  tqsearch::write_index(&tq, &w3);
  const std::vector<uint8_t>& v3 = w3.data;
  EXPECT_EQ(v3[4], 4);
  uint64_t len = 0;
  std::memcpy(&len, v3.data() + 8, 8);
  std::vector<uint8_t> header(v3.begin() + 16, v3.begin() + 16 + std::ptrdiff_t(len));
  edit(header);
  faiss::VectorIOWriter w;
  {
    internal::StreamWriter out(&w);
    out.write_u32(internal::make_fourcc("TqFl"));
    out.write_u32(version);
    out.write_section(header.data(), header.size());
  }
  w.data.insert(w.data.end(), v3.begin() + 16 + std::ptrdiff_t(len) + 8, v3.end());
  return w.data;
}

std::unique_ptr<faiss::Index> read_record(const std::vector<uint8_t>& bytes) {
  faiss::VectorIOReader r;
  r.data = bytes;
  return tqsearch::read_index(&r);
}

// A version-2 record (before the scan layout and the bounded-scan defaults were saved: its header ends at has_mean)
// loads with the recommended layout and default prefix_z / lut_max / lut_z, the same codes, and the results of an
// index built with those defaults.
TEST(IndexIo, FormatVersion2FilesLoadWithTheRecommendedLayout) {
  IndexTurboQuantOptions o;
  o.scan_bits = 2;
  o.search.prefix_z = 0.25f;
  o.search.lut_max = 63;
  auto tq = filled_tq(IndexMetric::kL2, o);
  auto back_any = read_record(record_with_header(*tq, 2, [](std::vector<uint8_t>& h) { h.resize(h.size() - 17); }));
  auto* back = dynamic_cast<IndexTurboQuant*>(back_any.get());
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->options().scan_bits, -1);
  EXPECT_EQ(back->scanner().layout().scan_bits, 0);  // recommended for 4-bit codes: the full codes
  const FlatSearchParams defaults = IndexTurboQuantOptions{}.search;
  EXPECT_EQ(back->options().search.prefix_z, defaults.prefix_z);
  EXPECT_EQ(back->options().search.lut_max, defaults.lut_max);
  EXPECT_EQ(back->options().search.lut_z, defaults.lut_z);
  EXPECT_EQ(back->codes, tq->codes);
  auto plain = filled_tq(IndexMetric::kL2);
  EXPECT_EQ(plain->codes, tq->codes);  // the layout is not part of the codes
  const Result a = run_search(*plain), b = run_search(*back);
  EXPECT_EQ(a.I, b.I);
  EXPECT_EQ(a.D, b.D);
}

// Out-of-range v3 fields behind a valid checksum are refused with the field named, never used.
TEST(IndexIo, CorruptVersion3FieldsAreRefused) {
  auto tq = filled_tq(IndexMetric::kInnerProduct);
  struct Case {
    size_t from_end;  // byte offset of the field from the end of the header
    uint32_t bits;    // raw value written there
    const char* needle;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), neg = -1.0f;
  uint32_t nan_bits = 0, neg_bits = 0;
  std::memcpy(&nan_bits, &nan, 4);
  std::memcpy(&neg_bits, &neg, 4);
  for (const Case& c : {Case{16, 7u, "scan_bits"}, Case{16, uint32_t(-5), "scan_bits"}, Case{12, nan_bits, "prefix_z"},
                        Case{8, 100u, "lut_max"}, Case{4, neg_bits, "lut_z"}}) {
    const auto bytes = record_with_header(*tq, 3, [&](std::vector<uint8_t>& h) {
      h.pop_back();  // a v3 header: no fold_renorm byte
      std::memcpy(h.data() + h.size() - c.from_end, &c.bits, 4);
    });
    try {
      read_record(bytes);
      ADD_FAILURE() << "no error for a corrupt " << c.needle;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
      EXPECT_NE(what.find(c.needle), std::string::npos) << what;
    }
  }
}

// A version-3 record (before fold_renorm was saved: its header ends at lut_z) loads unfolded with the same codes and
// results; a v4 fold flag that is not 0/1, or that disagrees with the stored code size, is refused as corrupt.
TEST(IndexIo, FormatVersion3FilesLoadUnfoldedAndTheFoldFlagIsChecked) {
  auto tq = filled_tq(IndexMetric::kInnerProduct);
  auto back_any = read_record(record_with_header(*tq, 3, [](std::vector<uint8_t>& h) { h.pop_back(); }));
  auto* back = dynamic_cast<IndexTurboQuant*>(back_any.get());
  ASSERT_NE(back, nullptr);
  EXPECT_FALSE(back->options().quantizer.fold_renorm);
  EXPECT_EQ(back->codes, tq->codes);
  const Result a = run_search(*tq), b = run_search(*back);
  EXPECT_EQ(a.I, b.I);
  EXPECT_EQ(a.D, b.D);
  for (uint8_t flag : {uint8_t(2), uint8_t(1)}) {  // 2: not a flag; 1: folded codes are 4 bytes shorter
    try {
      read_record(record_with_header(*tq, 4, [&](std::vector<uint8_t>& h) { h.back() = flag; }));
      ADD_FAILURE() << "no error for fold flag " << int(flag);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(flag == 2 ? "flag byte" : "code_size"), std::string::npos) << e.what();
    }
  }
}

TEST(IndexIo, HugeDeclaredLengthsFailWithoutAllocating) {
  TempDir dir;
  using internal::ByteSink;
  // A well-formed header (valid checksum) claiming 2^39 rows, followed by nothing: must fail as truncated
  // after a bounded read, not try to allocate 2^39 · code_size bytes.
  IndexTurboQuant ref(16);
  ByteSink h;
  h.put_i32(16);
  h.put_u32(0);
  h.put_f64(4.0);
  h.put_u32(uint32_t(RotationKind::kHadamard));
  h.put_u64(ref.options().quantizer.rotation.seed);
  h.put_i32(0);
  h.put_u8(0);
  h.put_u8(1);
  h.put_u8(0);
  h.put_u32(uint32_t(QjlKind::kStructured));
  h.put_u64(ref.options().quantizer.qjl_seed);
  h.put_u32(uint32_t(Estimator::kRenorm));
  h.put_i32(4);
  h.put_i32(16);
  h.put_f32(3.0f);
  h.put_i32(4);
  h.put_u64(ref.code_size);
  h.put_i64(int64_t(1) << 39);
  faiss::VectorIOWriter w;
  internal::StreamWriter out(&w);
  out.write_u32(internal::make_fourcc("TqFl"));
  out.write_u32(1);
  out.write_section(h);
  const uint64_t claimed = (uint64_t(1) << 39) * ref.code_size;
  out.write_bytes(&claimed, 8);
  write_bytes(dir.file("huge.index"), w.data);
  expect_read_error(dir.file("huge.index"), "truncated");
  // A declared length that disagrees with ntotal·code_size is refused before reading.
  faiss::VectorIOWriter w2;
  internal::StreamWriter out2(&w2);
  out2.write_u32(internal::make_fourcc("TqFl"));
  out2.write_u32(1);
  out2.write_section(h);
  const uint64_t wrong = 12345;
  out2.write_bytes(&wrong, 8);
  write_bytes(dir.file("wrong_len.index"), w2.data);
  expect_read_error(dir.file("wrong_len.index"), "expected exactly");
}

TEST(IndexIo, StructurallyInvalidRecordsAreRefusedDespiteValidChecksums) {
  TempDir dir;
  const auto& ds = data();
  const std::string path = dir.file("bad_graph.index");
  auto make = [&] {
    auto h = std::make_unique<faiss::IndexHNSW>(new IndexTurboQuant(ds.d, IndexMetric::kL2), 8);
    h->own_fields = true;
    h->add(300, ds.base.data());
    return h;
  };
  auto h = make();
  h->hnsw.neighbors[5] = 1000000;  // neighbor id out of range: the writer does not judge, the reader must
  tqsearch::write_index(h.get(), path.c_str());
  expect_read_error(path, "neighbor id");
  h = make();
  h->hnsw.entry_point = 299;
  h->hnsw.max_level = 7;
  tqsearch::write_index(h.get(), path.c_str());
  expect_read_error(path, "max_level");
  h = make();
  h->hnsw.offsets[10] += 1;
  tqsearch::write_index(h.get(), path.c_str());
  expect_read_error(path, "offsets");
}

TEST(IndexIo, FailedSaveLeavesThePreviousFileUntouched) {
  TempDir dir;
  auto tq = filled_tq(IndexMetric::kL2);
  const std::string path = dir.file("keep.index");
  tqsearch::write_index(tq.get(), path.c_str());
  const std::vector<uint8_t> before = read_bytes(path);
  // IndexReplicas holding our index: neither we nor FAISS can serialize it.
  faiss::IndexReplicas replicas(data().d);
  IndexTurboQuant inner(data().d, IndexMetric::kL2);
  replicas.addIndex(&inner);
  EXPECT_THROW(tqsearch::write_index(&replicas, path.c_str()), Error);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"keep.index"});
  // Unwritable destination: clear error, nothing created.
  EXPECT_THROW(tqsearch::write_index(tq.get(), dir.file("no_such_dir/x.index").c_str()), Error);
  EXPECT_THROW(tqsearch::write_index(tq.get(), ""), Error);
}

}  // namespace
}  // namespace tqsearch
