// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/internal/index_io_registry.h"

#include <new>
#include <typeindex>

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexShards.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include "index/index_turbo_quant.h"
#include "quant/error.h"

namespace tqsearch::internal {

namespace {

constexpr uint32_t kFaissEmbeddedFourcc = make_fourcc("TqFx");
constexpr uint64_t kMaxEmbeddedBytes = uint64_t(1) << 46;  // 64 TiB: a sanity bound, reads are chunked anyway

const std::vector<IndexIoEntry>& registry() {
  // One entry per record type. Lookup is a linear scan: the table is tiny.
  static const std::vector<IndexIoEntry> table = {
      {make_fourcc("TqFl"), "IndexTurboQuant", &typeid(IndexTurboQuant), 4, &write_turbo_quant, &read_turbo_quant,
       nullptr, true},
      {kFaissEmbeddedFourcc, "FAISS index (embedded)", nullptr, 1, &write_faiss_embedded, &read_faiss_embedded,
       nullptr, false},
      {make_fourcc("TqIM"), "IndexIDMap", &typeid(faiss::IndexIDMap), 1, &write_id_map, &read_id_map,
       &id_map_children, false},
      {make_fourcc("TqI2"), "IndexIDMap2", &typeid(faiss::IndexIDMap2), 1, &write_id_map2, &read_id_map2,
       &id_map_children, false},
      {make_fourcc("TqRf"), "IndexRefine", &typeid(faiss::IndexRefine), 1, &write_refine, &read_refine,
       &refine_children, false},
      {make_fourcc("TqRF"), "IndexRefineFlat", &typeid(faiss::IndexRefineFlat), 1, &write_refine_flat,
       &read_refine_flat, &refine_children, false},
      {make_fourcc("TqHN"), "IndexHNSW", &typeid(faiss::IndexHNSW), 1, &write_hnsw, &read_hnsw, &hnsw_children,
       false},
      {make_fourcc("TqSh"), "IndexShards", &typeid(faiss::IndexShards), 1, &write_shards, &read_shards,
       &shards_children, false},
      {make_fourcc("TqPT"), "IndexPreTransform", &typeid(faiss::IndexPreTransform), 1, &write_pre_transform,
       &read_pre_transform, &pre_transform_children, false},
  };
  return table;
}

}  // namespace

const IndexIoEntry* find_entry_by_fourcc(uint32_t fourcc) {
  for (const auto& e : registry()) {
    if (e.fourcc == fourcc) return &e;
  }
  return nullptr;
}

const IndexIoEntry* find_entry_by_type(const std::type_info& type) {
  for (const auto& e : registry()) {
    if (e.type != nullptr && *e.type == type) return &e;
  }
  return nullptr;
}

bool holds_tqsearch_index(const faiss::Index& index) {
  const IndexIoEntry* e = find_entry_by_type(typeid(index));
  if (e == nullptr) return false;
  if (e->own_type) return true;
  if (e->children == nullptr) return false;
  for (const faiss::Index* c : e->children(index)) {
    if (c != nullptr && holds_tqsearch_index(*c)) return true;
  }
  return false;
}

void write_registered(const IndexIoEntry& entry, const faiss::Index& index, StreamWriter& out) {
  out.write_u32(entry.fourcc);
  out.write_u32(entry.version);
  entry.write(index, out);
}

std::unique_ptr<faiss::Index> read_registered(const IndexIoEntry& entry, StreamReader& in, int depth) {
  const uint32_t version = in.read_u32("format version");
  TQ_CHECK(version != 0, "read_index: corrupt file: " << entry.name << " record has format version 0");
  TQ_CHECK(version <= entry.version, "read_index: " << entry.name << " record has format version " << version
                                                    << ", newer than this build reads (up to " << entry.version
                                                    << "): the file was written by a newer tqsearch");
  return entry.read(in, version, depth);
}

void write_child_index(const faiss::Index& index, StreamWriter& out) {
  const IndexIoEntry* e = find_entry_by_type(typeid(index));
  if (e != nullptr && (e->own_type || holds_tqsearch_index(index))) {
    write_registered(*e, index, out);
  } else {
    write_registered(*find_entry_by_fourcc(kFaissEmbeddedFourcc), index, out);
  }
}

std::unique_ptr<faiss::Index> read_child_index(StreamReader& in, int depth) {
  TQ_CHECK(depth + 1 <= kMaxIndexNesting,
           "read_index: corrupt file: index wrappers nested deeper than " << kMaxIndexNesting);
  const uint32_t fourcc = in.read_u32("sub-index type");
  const IndexIoEntry* e = find_entry_by_fourcc(fourcc);
  TQ_CHECK(e != nullptr, "read_index: corrupt file: unknown sub-index type " << fourcc_to_string(fourcc));
  return read_registered(*e, in, depth + 1);
}

void write_faiss_embedded(const faiss::Index& index, StreamWriter& out) {
  faiss::VectorIOWriter buf;
  try {
    faiss::write_index(&index, &buf);
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("write_index: FAISS cannot serialize sub-index of type " << typeid(index).name() << ": " << ex.what());
  }
  out.write_section(buf.data.data(), buf.data.size());
}

std::unique_ptr<faiss::Index> read_faiss_embedded(StreamReader& in, uint32_t /*version*/, int /*depth*/) {
  faiss::VectorIOReader buf;
  buf.data = in.read_section("embedded FAISS index", kMaxEmbeddedBytes);
  buf.name = "embedded FAISS index";
  std::unique_ptr<faiss::Index> idx;
  try {
    idx.reset(faiss::read_index(&buf));
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("read_index: corrupt file: embedded FAISS index could not be read: " << ex.what());
  } catch (const std::bad_alloc&) {
    TQ_THROW("read_index: corrupt file: embedded FAISS index declares sizes that cannot be allocated");
  }
  TQ_CHECK(buf.rp == buf.data.size(), "read_index: corrupt file: embedded FAISS index has "
                                          << buf.data.size() - buf.rp << " trailing bytes");
  return idx;
}

}  // namespace tqsearch::internal
