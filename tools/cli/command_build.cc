// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch build: stream an embeddings file into an index and save it.

#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include <faiss/IndexIDMap.h>

#include "index/index_factory.h"
#include "index/index_io.h"
#include "quant/error.h"
#include "tools/cli/cli_common.h"
#include "tools/cli/commands.h"
#include "tools/cli/index_summary.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::cli {

CommandSpec build_command_spec() {
  CommandSpec s;
  s.name = "build";
  s.summary = "Build an index from an embeddings file and save it. The file is streamed in chunks: memory is the "
              "index plus one chunk (and the training sample for FAISS types that train).";
  s.flags = {
      {"input", "FILE", "base vectors (.fvecs .bvecs .fbin .u8bin .i8bin .npy .hdf5[:dataset], HDF5 default 'train')",
       true, ""},
      {"spec", "SPEC", "index description: TQ4, TQ2.5, TQ4,QJL, TQ4,RFlat, HNSW32,TQ4, or any FAISS factory string",
       true, ""},
      {"metric", "METRIC", "ip, l2 or cos (default l2; an ann-benchmarks HDF5 file's distance attribute)", false, ""},
      {"ids", "FILE", "one int id per vector (.ibin .ivecs .npy, shape (n, 1) or (n,)): search returns these ids",
       false, ""},
      {"threads", "N", "OpenMP threads (default: all cores)", false, ""},
      {"train-size", "N", "training sample for FAISS types that train (PQ, SQ, IVF); 0 = all rows", false, "0"},
      {"out", "FILE", "index file to write (replaced atomically)", true, ""},
  };
  for (FlagSpec& f : scan_param_flags()) {
    f.help += "; saved as the index default";
    s.flags.push_back(f);
  }
  s.details =
      "Example:\n"
      "  tqsearch build --input ../shared/data/glove-100-angular/base.fvecs --spec TQ4 --metric ip --out glove.tqs\n";
  return s;
}

int run_build(const ParsedArgs& args) {
  if (args.has("threads")) set_threads(int(args.get_int("threads", 1, 4096)));
  const std::string input = args.get("input"), spec = args.get("spec"), out = args.get("out");
  IndexMetric metric = IndexMetric::kL2;
  if (args.has("metric")) {
    metric = parse_metric(args.get("metric"));
  } else if (auto m = metric_from_file(input)) {
    metric = *m;
  }
  auto reader = io::open_matrix(input, "train");
  const size_t n = reader->rows(), d = reader->cols();
  TQ_CHECK(d <= 65536, input << ": dimension " << d << " is larger than 65536");

  std::unique_ptr<faiss::Index> index = index_factory(int(d), spec, metric);
  apply_scan_params(*index, args, "--spec " + spec, true);
  std::vector<int64_t> ids;
  if (args.has("ids")) {
    const std::string ids_path = args.get("ids");
    const io::Matrix<int64_t> m = io::read_int_matrix(ids_path);
    TQ_CHECK(m.cols == 1, ids_path << ": ids must be one column (shape (n, 1) or (n,)), got " << m.cols << " columns");
    TQ_CHECK(m.rows == n, ids_path << ": " << m.rows << " ids for " << n << " vectors in " << input);
    ids = m.data;
    if (dynamic_cast<faiss::IndexIDMap*>(index.get()) == nullptr &&
        dynamic_cast<faiss::IndexIDMap2*>(index.get()) == nullptr) {
      auto wrapped = std::make_unique<faiss::IndexIDMap>(index.release());
      wrapped->own_fields = true;
      index = std::move(wrapped);
    }
  }
  const size_t train_size = size_t(args.get_int("train-size", 0, int64_t(1) << 40));
  std::fprintf(stderr, "%s: %zu vectors of dimension %zu (%s)\n", reader->path().c_str(), n, d,
               std::string(io::element_type_name(reader->element_type())).c_str());
  const auto [train_s, add_s] = train_and_add(*index, *reader, train_size, ids.empty() ? nullptr : ids.data());
  const double t0 = now_seconds();
  write_index(index.get(), out.c_str());
  const double write_s = now_seconds() - t0;
  struct stat st {};
  const double file_size = ::stat(out.c_str(), &st) == 0 ? double(st.st_size) : -1;
  const double bpv = bytes_per_vector(*index);
  std::printf("built %s: %lld vectors, d=%zu, %s, metric %s, %.2f bytes/vector, %.2f s (train %.2f s, add %.2f s, "
              "write %.2f s), file %s\n",
              out.c_str(), (long long)index->ntotal, d, spec.c_str(), metric_name(*index).c_str(), bpv,
              train_s + add_s + write_s, train_s, add_s, write_s, human_bytes(file_size).c_str());
  return 0;
}

}  // namespace tqsearch::cli
