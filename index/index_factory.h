// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// index_factory: build an index from a description string, as faiss::index_factory does, with TurboQuant types.
///
/// Grammar of tqsearch descriptions (comma-separated tokens, case-sensitive, no spaces):
///
///     description := [ idmap "," ] [ hnsw "," ] tq { "," option } [ "," "RFlat" ]
///     idmap       := "IDMap" | "IDMap2"          → faiss::IndexIDMap / IndexIDMap2 around the rest
///     hnsw        := "HNSW" M                    → faiss::IndexHNSW(storage = the TQ index, M), 2 <= M <= 512
///     tq          := "TQ" rate                   → IndexTurboQuant with `rate` mse bits per coordinate:
///                                                   1, 2, 3, 4, 8 or fractional (e.g. 2.5, 3.5), 1 <= rate <= 8
///     option      := "Renorm"                    → store ρ, renormalized estimator (the default when no
///                                                   estimator option is given)
///                  | "MSE"                       → plain mse codes and estimator (no ρ, no sketch)
///                  | "QJL"                       → plus a 1-bit QJL residual sketch (d more bits per vector),
///                                                   QJL (unbiased) estimator. "TQ3,QJL" = 3 mse bits + 1 QJL bit.
///                  | "Center"                    → learn a mean vector μ in train() and encode x − μ (codebooks stay
///                                                   data-oblivious; the index then needs train() before add()); for
///                                                   L2 and cosine (ranked as L2 on centered unit vectors; zero rows
///                                                   refused; with Fold cosine keeps the IP form) — with IP it lowers
///                                                   recall when ‖μ‖ is large (see index_turbo_quant.h)
///                  | "OptCos"                    → optimize_cosine: choose each code to maximize ⟨y, ŷ⟩/‖ŷ‖
///                                                   (renormalized estimator only; encode ~16× slower)
///                  | "Norm16"                    → store ‖x‖ as float16 (2 bytes less per vector)
///                  | "Fold"                      → fold_renorm: store only ‖x‖/ρ instead of ‖x‖ and ρ (4 bytes
///                                                   less; with Norm16 2 bytes per vector besides the indices);
///                                                   renormalized estimator only, IP / cosine only (L2 needs ‖x‖²)
///                  | "Dense"                     → dense Haar rotation instead of randomized Hadamard (reference)
///                  | "Scan<b>"                   → scan layout (IndexTurboQuantOptions::scan_bits): Scan0 the full
///                                                   codes, Scan1..Scan4 a prefix scan with b bits per coordinate
///                                                   bounded by the search's prefix_z (e.g. "TQ4,Scan2": half the
///                                                   lookups); default: the recommended layout
///                  | "Lut<m>"                    → search default lut_max = m (63, 127, 255): the scan's LUTs
///                                                   quantized to 0..m, rows rescored within lut_z·σ of the k-th best
///                                                   ("TQ4,Lut127": same recall, 1.14–1.17× the scan on GloVe, SIFT,
///                                                   DEEP; rerank_factor then no longer applies)
///     "RFlat"                                    → faiss::IndexRefineFlat around the TQ (or HNSW) index, keeping
///                                                   the raw vectors for an exact rerank; k_factor = 4 (FAISS's
///                                                   default 1 cannot change recall@k)
///
/// At most one of Renorm / MSE / QJL; each option at most once, in any order (RFlat last). Examples: "TQ4",
/// "TQ2.5", "TQ4,QJL", "TQ4,MSE", "TQ4,Center", "TQ4,Center,OptCos,Norm16", "TQ3.84,Norm16,Fold", "IDMap,TQ4", "IDMap2,TQ4",
/// "HNSW32,TQ4", "TQ4,Scan2", "TQ4,Scan2,Lut63", "TQ4,RFlat", "IDMap,HNSW32,TQ4,Renorm,RFlat".
/// A description without a "TQ<rate>" token goes to faiss::index_factory unchanged. A description with one that
/// does not follow the grammar is an error (tqsearch::Error names the offending token and the allowed forms).
///
/// Metric: like faiss::index_factory (METRIC_L2 default, METRIC_INNER_PRODUCT). The IndexMetric overload adds
/// cosine: TQ indexes normalize themselves (IndexMetric::kCosine); with RFlat, and for plain FAISS descriptions,
/// the result is wrapped in faiss::IndexPreTransform(NormalizationTransform) with inner product inside.

#include <memory>
#include <string>

#include <faiss/Index.h>

#include "index/index_turbo_quant.h"

namespace tqsearch {

/// @param d            vector dimension (>= 1)
/// @param description  see the grammar above
/// @param metric       faiss::METRIC_L2 or faiss::METRIC_INNER_PRODUCT (any FAISS metric for FAISS descriptions)
std::unique_ptr<faiss::Index> index_factory(int d, const std::string& description,
                                            faiss::MetricType metric = faiss::METRIC_L2);
/// Same with tqsearch's metric enum (adds cosine).
std::unique_ptr<faiss::Index> index_factory(int d, const std::string& description, IndexMetric metric);

}  // namespace tqsearch
