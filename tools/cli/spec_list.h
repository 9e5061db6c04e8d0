// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Splitting `bench --specs` into index descriptions. Descriptions themselves contain commas ("TQ4,QJL",
/// "IDMap,TQ4", "IVF1024,PQ16"), so:
///   - if the list contains ';', it is split on ';' only;
///   - otherwise it is split on ',' and tokens are glued back: option tokens (QJL, MSE, Renorm, Dense, RFlat,
///     Refine(...)) join the description before them; prefix tokens (IDMap, IDMap2, HNSW<M> when followed by a
///     TQ token, IVF…, IMI…, OPQ…, PCA…, RR…, ITQ…, L2norm, Pad…) join the description after them.
/// Example: "TQ2,TQ4,TQ4,QJL,PQ32,PQ64x4fs,SQ8,Flat" → TQ2 | TQ4 | TQ4,QJL | PQ32 | PQ64x4fs | SQ8 | Flat.

#include <string>
#include <vector>

namespace tqsearch::cli {

std::vector<std::string> split_spec_list(const std::string& list);

}  // namespace tqsearch::cli
