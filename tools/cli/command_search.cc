// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch search: load an index, search a query file, write the results.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include <faiss/IndexRefine.h>

#include "index/index_io.h"
#include "index/index_turbo_quant.h"
#include "quant/error.h"
#include "tools/cli/arg_parser.h"
#include "tools/cli/cli_common.h"
#include "tools/cli/commands.h"
#include "tools/cli/index_summary.h"
#include "tools/cli/json_writer.h"
#include "tools/io/file_format.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"

namespace tqsearch::cli {

namespace {

/// Apply --rerank MODE[:FACTOR] to the loaded index (its default search parameters).
void apply_rerank(faiss::Index& index, const std::string& value, const std::string& index_path) {
  const size_t colon = value.find(':');
  const std::string mode = value.substr(0, colon);
  int factor = -1;
  if (colon != std::string::npos) factor = int(parse_int(value.substr(colon + 1), "--rerank factor", 1, 1 << 20));
  if (mode == "exact") {
    faiss::IndexRefine* refine = find_refine(&index);
    TQ_CHECK(refine != nullptr, "--rerank exact: " << index_path << " keeps no raw vectors (" << type_chain(index)
                                                   << "); build it with an RFlat spec such as TQ4,RFlat");
    if (factor > 0) refine->k_factor = float(factor);
    return;
  }
  IndexTurboQuant* tq = find_turbo_quant(&index);
  TQ_CHECK(tq != nullptr, "--rerank " << mode << ": " << index_path << " holds no TurboQuant index ("
                                      << type_chain(index) << ")");
  FlatSearchParams p = tq->options().search;
  if (mode == "none") {
    TQ_CHECK(factor < 0, "--rerank none takes no factor");
    p.rerank_factor = 0;
  } else {
    if (mode == "mse") {
      p.estimator = Estimator::kMse;
    } else if (mode == "renorm") {
      p.estimator = Estimator::kRenorm;
    } else if (mode == "qjl") {
      p.estimator = Estimator::kQjl;
    } else {
      TQ_THROW("--rerank: unknown mode '" << mode << "'; expected none, mse, renorm, qjl or exact, optionally "
                                             "followed by :FACTOR (e.g. renorm:8)");
    }
    TQ_CHECK(tq->quantizer().supports(p.estimator),
             "--rerank " << mode << ": " << index_path << " was built without the data this estimator needs ("
                         << (p.estimator == Estimator::kQjl ? "build with TQ<b>,QJL" : "build with TQ<b>,Renorm")
                         << ")");
    if (factor > 0) p.rerank_factor = factor;
    if (p.rerank_factor == 0) p.rerank_factor = 4;
  }
  tq->set_search_params(p);
}

void write_tsv(std::FILE* f, size_t nq, size_t k, const std::vector<int64_t>& ids, const std::vector<float>& dist) {
  std::fprintf(f, "query\trank\tid\tdistance\n");
  for (size_t q = 0; q < nq; ++q) {
    for (size_t j = 0; j < k; ++j) {
      if (ids[q * k + j] < 0) break;
      std::fprintf(f, "%zu\t%zu\t%lld\t%.9g\n", q, j, (long long)ids[q * k + j], dist[q * k + j]);
    }
  }
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

}  // namespace

CommandSpec search_command_spec() {
  CommandSpec s;
  s.name = "search";
  s.summary = "Search an index with a file of query vectors and write the k nearest neighbors of each.";
  s.flags = {
      {"index", "FILE", "index written by tqsearch build", true, ""},
      {"queries", "FILE", "query vectors (.fvecs .bvecs .fbin .npy .hdf5[:dataset], HDF5 default 'test')", true, ""},
      {"k", "K", "neighbors per query", false, "10"},
      {"rerank", "MODE[:F]",
       "TurboQuant rerank: none | mse | renorm | qjl, rescoring the top k·F scan candidates; exact[:F] for "
       "RFlat indexes (exact distances on k·F candidates)",
       false, ""},
      {"out", "FILE",
       "results: .ivecs/.ibin/.npy (ids), .tsv (query, rank, id, distance), .json (ids and distances); default: "
       "TSV on stdout",
       false, ""},
  };
  for (FlagSpec& f : scan_param_flags()) {
    f.help += "; overrides the index's saved default";
    s.flags.insert(s.flags.end() - 1, f);
  }
  s.details =
      "Ids are row numbers of the build input (or the --ids given to build); -1 pads when k > count.\n"
      "Example:\n"
      "  tqsearch search --index glove.tqs --queries ../shared/data/glove-100-angular/query.fvecs --k 10 "
      "--out top10.ivecs\n";
  return s;
}

int run_search(const ParsedArgs& args) {
  const std::string index_path = args.get("index"), queries_path = args.get("queries");
  const int64_t k = args.get_int("k", 1, 1 << 20);
  std::unique_ptr<faiss::Index> index = read_index(index_path.c_str());
  if (args.has("rerank")) apply_rerank(*index, args.get("rerank"), index_path);
  apply_scan_params(*index, args, index_path, true);
  auto reader = io::open_matrix(queries_path, "test");
  TQ_CHECK(int64_t(reader->cols()) == index->d, queries_path << ": queries have dimension " << reader->cols()
                                                             << ", the index " << index_path << " has d = "
                                                             << index->d);
  const size_t nq = reader->rows();
  std::vector<int64_t> ids(nq * size_t(k));
  std::vector<float> dist(nq * size_t(k));
  double search_s = 0;
  io::for_each_float_chunk(*reader, 4096, [&](size_t begin, size_t count, const float* rows) {
    const double t0 = now_seconds();
    index->search(faiss::Index::idx_t(count), rows, k, dist.data() + begin * size_t(k), ids.data() + begin * size_t(k));
    search_s += now_seconds() - t0;
  });
  std::fprintf(stderr, "searched %zu queries, k=%lld, in %.3f s (%.0f QPS) over %lld vectors\n", nq, (long long)k,
               search_s, search_s > 0 ? double(nq) / search_s : 0.0, (long long)index->ntotal);

  if (!args.has("out")) {
    write_tsv(stdout, nq, size_t(k), ids, dist);
    return 0;
  }
  const std::string out = args.get("out");
  if (ends_with(out, ".tsv")) {
    std::FILE* f = std::fopen(out.c_str(), "w");
    TQ_CHECK(f != nullptr, out << ": cannot open for writing");
    write_tsv(f, nq, size_t(k), ids, dist);
    TQ_CHECK(std::fclose(f) == 0, out << ": write failed");
  } else if (ends_with(out, ".json")) {
    JsonWriter j;
    j.begin_object().key("index").value(index_path).key("queries").value(queries_path).key("k").value(k);
    j.key("nq").value(nq).key("metric").value(metric_name(*index)).key("results").begin_array();
    for (size_t q = 0; q < nq; ++q) {
      j.begin_object().key("ids").begin_inline_array();
      for (int64_t c = 0; c < k; ++c) j.value(ids[q * size_t(k) + size_t(c)]);
      j.end_array().key("distances").begin_inline_array();
      for (int64_t c = 0; c < k; ++c) {
        if (ids[q * size_t(k) + size_t(c)] < 0) {
          j.null();
        } else {
          j.value(double(dist[q * size_t(k) + size_t(c)]));
        }
      }
      j.end_array().end_object();
    }
    j.end_array().end_object();
    std::ofstream f(out, std::ios::trunc);
    f << j.str();
    TQ_CHECK(f.good(), out << ": write failed");
  } else {
    io::write_matrix(out, io::MatrixView::of(ids.data(), nq, size_t(k)));
  }
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace tqsearch::cli
