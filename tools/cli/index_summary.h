// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// What `tqsearch info` and `bench` report about an index: the chain of types (wrappers first), metric, storage
/// per vector, and the TurboQuant parameters when one is inside.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <faiss/Index.h>

namespace faiss {
struct IndexRefine;
}

namespace tqsearch {
class IndexTurboQuant;
}

namespace tqsearch::cli {

/// "ip", "l2" or "cos" (cosine: a TurboQuant index with IndexMetric::kCosine, or a FAISS index behind an
/// L2-normalizing IndexPreTransform with inner product).
std::string metric_name(const faiss::Index& index);

/// "IndexIDMap > IndexTurboQuant": the demangled type names from the outermost wrapper inward.
std::string type_chain(const faiss::Index& index);

/// Bytes stored per vector: the code (TurboQuant: mse bits + norm/ρ/γ/sketch; PQ: M·nbits/8; Flat: 4d; …) plus what
/// wrappers add (IDMap: 8-byte id; RefineFlat: 4d; HNSW: 4 bytes per level-0 link slot; IVF: 8-byte id).
/// Negative when unknown.
double bytes_per_vector(const faiss::Index& index);
/// Bits per vector: exact for TurboQuant codes without byte padding (fractional rates), 8·bytes otherwise.
double bits_per_vector(const faiss::Index& index);

/// The first IndexTurboQuant / IndexRefine in the chain, or nullptr.
IndexTurboQuant* find_turbo_quant(faiss::Index* index);
const IndexTurboQuant* find_turbo_quant(const faiss::Index* index);
faiss::IndexRefine* find_refine(faiss::Index* index);

/// (field, value) lines for `tqsearch info`.
std::vector<std::pair<std::string, std::string>> describe_index(const faiss::Index& index);

}  // namespace tqsearch::cli
