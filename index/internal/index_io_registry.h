// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The registry of tqsearch index file types: fourcc ↔ C++ type ↔ writer/reader. Our own index types and the FAISS
/// wrappers that can hold them (FAISS's writer cannot serialize sub-indexes it does not know) each have one entry;
/// write_index/read_index dispatch through it, with no central if/else chain. Adding a type = adding an entry in
/// index_io_registry.cc.
///
/// Every record starts with its fourcc and a u32 format version; readers reject versions newer than they know.

#include <cstdint>
#include <memory>
#include <typeinfo>
#include <vector>

#include <faiss/Index.h>

#include "index/internal/byte_stream.h"

namespace tqsearch::internal {

/// Deepest nesting of wrappers accepted when reading (guards the stack against crafted files).
constexpr int kMaxIndexNesting = 32;

struct IndexIoEntry {
  uint32_t fourcc;
  const char* name;                  ///< for messages, e.g. "IndexIDMap"
  const std::type_info* type;        ///< exact dynamic type written by `write` (nullptr: read-only entry)
  uint32_t version;                  ///< current format version of this record
  /// Writes the record body (after fourcc and version).
  void (*write)(const faiss::Index& index, StreamWriter& out);
  /// Reads the record body; `version` is <= the entry's version and >= 1; `depth` is the current nesting.
  std::unique_ptr<faiss::Index> (*read)(StreamReader& in, uint32_t version, int depth);
  /// Sub-indexes (wrappers), empty for leaves. nullptr for our own leaf types.
  std::vector<const faiss::Index*> (*children)(const faiss::Index& index);
  /// Whether this entry is one of our own index types (always written with our format).
  bool own_type;
};

const IndexIoEntry* find_entry_by_fourcc(uint32_t fourcc);
const IndexIoEntry* find_entry_by_type(const std::type_info& type);

/// Whether `index` is, or (through registered wrappers) holds, a tqsearch index type.
bool holds_tqsearch_index(const faiss::Index& index);

/// Writes a sub-index: our record when the type needs it, otherwise the FAISS index embedded in a checksummed
/// section (fourcc "TqFx"), so that every child of our wrappers is length-checked before FAISS parses it.
void write_child_index(const faiss::Index& index, StreamWriter& out);
/// Reads what write_child_index wrote. @param depth  nesting of the parent (+1 here; capped)
std::unique_ptr<faiss::Index> read_child_index(StreamReader& in, int depth);

/// Writes a record (fourcc, version, body) through the registry. Requires find_entry_by_type(typeid(index)).
void write_registered(const IndexIoEntry& entry, const faiss::Index& index, StreamWriter& out);
/// Reads the version and body of a record whose fourcc was already read.
std::unique_ptr<faiss::Index> read_registered(const IndexIoEntry& entry, StreamReader& in, int depth);

// ---- record bodies (defined in turbo_quant_io.cc and wrapper_io.cc) ----
void write_turbo_quant(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_turbo_quant(StreamReader& in, uint32_t version, int depth);
void write_faiss_embedded(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_faiss_embedded(StreamReader& in, uint32_t version, int depth);

void write_id_map(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_id_map(StreamReader& in, uint32_t version, int depth);
void write_id_map2(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_id_map2(StreamReader& in, uint32_t version, int depth);
std::vector<const faiss::Index*> id_map_children(const faiss::Index& index);

void write_refine(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_refine(StreamReader& in, uint32_t version, int depth);
void write_refine_flat(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_refine_flat(StreamReader& in, uint32_t version, int depth);
std::vector<const faiss::Index*> refine_children(const faiss::Index& index);

void write_hnsw(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_hnsw(StreamReader& in, uint32_t version, int depth);
std::vector<const faiss::Index*> hnsw_children(const faiss::Index& index);

void write_shards(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_shards(StreamReader& in, uint32_t version, int depth);
std::vector<const faiss::Index*> shards_children(const faiss::Index& index);

void write_pre_transform(const faiss::Index& index, StreamWriter& out);
std::unique_ptr<faiss::Index> read_pre_transform(StreamReader& in, uint32_t version, int depth);
std::vector<const faiss::Index*> pre_transform_children(const faiss::Index& index);

}  // namespace tqsearch::internal
