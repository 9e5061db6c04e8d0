// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Pieces shared by the `tqsearch` commands: metric names, thread count, reading a training sample, adding a
/// streamed file to an index with progress.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <faiss/Index.h>

#include "index/index_turbo_quant.h"
#include "tools/cli/arg_parser.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::cli {

/// "ip" | "l2" | "cos" (also "cosine", "angular", "euclidean", "dot", "inner_product").
IndexMetric parse_metric(const std::string& name);
/// "ip", "l2", "cos".
std::string metric_short_name(IndexMetric m);

/// The metric an ann-benchmarks HDF5 file declares in its `distance` attribute, if the path is one and has it.
std::optional<IndexMetric> metric_from_file(const std::string& path);

/// omp_set_num_threads (n >= 1).
void set_threads(int n);

/// max_rows distinct row numbers of [0, rows), uniform without replacement (fixed seed), ascending; all rows
/// when max_rows == 0 or >= rows.
std::vector<size_t> sample_row_ids(size_t rows, size_t max_rows);

/// Rows sampled uniformly without replacement (fixed seed, ascending row order) for training; all rows when
/// max_rows == 0 or >= rows. @return (count, cols) row-major float32
std::vector<float> read_training_sample(io::MatrixReader& reader, size_t max_rows, size_t* count);

/// Train (if the index needs it) on a sample and add every row of the reader in chunks, with progress on stderr.
/// @param ids  nullptr, or (rows) ids for add_with_ids
/// @return (train seconds, add seconds)
std::pair<double, double> train_and_add(faiss::Index& index, io::MatrixReader& reader, size_t train_size,
                                        const int64_t* ids);

/// The flags --prefix-z, --lut-max, --lut-z (TurboQuant flat-scan bounds; see FlatSearchParams), shared by build
/// (saved as the index defaults), search and bench.
std::vector<FlagSpec> scan_param_flags();
/// Applies those of the flags that are given to the TurboQuant index inside `index` (its default search
/// parameters). @return false when `index` holds no TurboQuant index (nothing applied; `required` makes that an
/// error naming `what`). Bad values throw tqsearch::Error naming the flag.
bool apply_scan_params(faiss::Index& index, const ParsedArgs& args, const std::string& what, bool required);

/// Seconds since an arbitrary epoch (steady clock).
double now_seconds();

/// Human file size ("5.81 MiB").
std::string human_bytes(double bytes);

}  // namespace tqsearch::cli
