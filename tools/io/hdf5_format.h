// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// ann-benchmarks HDF5 files (https://github.com/erikbern/ann-benchmarks): 2-D datasets `train` (base vectors),
/// `test` (queries), `neighbors` (int ground-truth ids), `distances`, and a file attribute `distance`
/// ("euclidean", "angular", "dot", …). Optional at build time (libhdf5 from Debian's libhdf5-dev): without it
/// every function here throws a tqsearch::Error saying so; hdf5_supported() tells which.
///
/// Stored float types are read as float32 (float64 rounds), integer types as int8/uint8/int32/int64.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/io/matrix.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::io {

/// Open one dataset for streaming reads (hyperslab reads of row ranges).
/// @param dataset          dataset name; when empty, default_dataset; when both are empty, the only 1-D/2-D
///                         dataset of the file (an error lists them when there are several)
std::unique_ptr<MatrixReader> open_hdf5(const std::string& file, std::string_view dataset,
                                        std::string_view default_dataset = {});

/// Names of the datasets at the root of the file, sorted.
std::vector<std::string> hdf5_dataset_names(const std::string& file);

/// A string attribute of the file root (e.g. "distance"), or nullopt when absent.
std::optional<std::string> hdf5_file_attribute(const std::string& file, const std::string& name);

/// Add a 2-D dataset to `file`, creating the file when it does not exist. Fails if the dataset exists.
/// Types: float32, float64 is not accepted, uint8, int8, int32, int64 (float16 is not supported here).
void write_hdf5(const std::string& file, const std::string& dataset, const MatrixView& m);

/// Set a string attribute on the file root (creating the file when it does not exist), e.g. distance=angular.
void write_hdf5_file_attribute(const std::string& file, const std::string& name, const std::string& value);

}  // namespace tqsearch::io
