// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Saving and loading indexes: tqsearch's own types, FAISS wrappers that hold them, and every FAISS type.
///
/// - IndexTurboQuant is written as its own record (fourcc "TqFl", format version, checksummed header with d,
///   metric, every quantizer and search option incl. rotation kind/seed/rounds, then ntotal·code_size codes).
/// - FAISS wrappers holding one of our indexes (IndexIDMap "TqIM", IndexIDMap2 "TqI2", IndexRefine "TqRf",
///   IndexRefineFlat "TqRF", IndexHNSW with our storage "TqHN", IndexShards "TqSh", IndexPreTransform "TqPT") are
///   written by us, recursively; their plain-FAISS sub-indexes are embedded as FAISS records inside checksummed
///   sections ("TqFx"). FAISS's own writer cannot serialize sub-indexes it does not know.
/// - Any index without tqsearch parts is written by faiss::write_index unchanged (the file stays readable by
///   FAISS), and read_index hands files that are not ours to faiss::read_index.
///
/// Robustness: every length is checked against what the record allows before allocating and large sections are
/// read in chunks; every section carries a checksum; versions newer than this build are refused. Truncated,
/// corrupt, empty or unknown files give tqsearch::Error (FAISS's exceptions are translated), never a crash.
/// Saving to a file path writes a temporary file in the same directory, fsyncs it and renames it over the
/// target: a failed or interrupted save never leaves a half-written index under `fname`.
///
/// Errors: tqsearch::Error for everything (bad paths, I/O errors, unsupported types, corrupt input).
///
/// Call these qualified (tqsearch::write_index): with faiss:: arguments, argument-dependent lookup also finds
/// faiss::write_index / faiss::read_index, so an unqualified call inside namespace tqsearch is ambiguous.

#include <memory>

#include <faiss/Index.h>
#include <faiss/impl/io.h>

namespace tqsearch {

/// Atomically save `index` to `fname` (temp file + fsync + rename).
void write_index(const faiss::Index* index, const char* fname);
/// Serialize `index` to a FAISS IOWriter (same bytes as the file form).
void write_index(const faiss::Index* index, faiss::IOWriter* writer);

/// Load an index saved by write_index (or by faiss::write_index). The whole file must be consumed.
std::unique_ptr<faiss::Index> read_index(const char* fname);
/// Load an index from a FAISS IOReader.
std::unique_ptr<faiss::Index> read_index(faiss::IOReader* reader);

}  // namespace tqsearch
