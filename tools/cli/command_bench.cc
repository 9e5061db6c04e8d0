// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch bench: recall and speed of several index types on one dataset, against exact ground truth.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "index/index_factory.h"
#include "quant/error.h"
#include "tools/cli/bench_report.h"
#include "tools/cli/cli_common.h"
#include "tools/cli/commands.h"
#include "tools/cli/exact_knn.h"
#include "tools/cli/index_summary.h"
#include "tools/cli/machine_info.h"
#include "tools/cli/progress.h"
#include "tools/cli/spec_list.h"
#include "tools/eval/recall.h"
#include "tools/io/file_format.h"
#include "tools/io/hdf5_format.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"

namespace tqsearch::cli {

namespace {

/// "glove-100-angular" for .../glove-100-angular/base.fvecs; "sift-128-euclidean" for sift-128-euclidean.hdf5.
std::string dataset_name(const std::string& base_path) {
  const io::FileLocation loc = io::parse_location(base_path);
  const std::filesystem::path p(loc.file);
  const std::string stem = p.stem().string();
  if (stem == "base" || stem == "train" || stem == "learn" || stem == "data") {
    const std::string parent = std::filesystem::absolute(p).parent_path().filename().string();
    if (!parent.empty()) return parent;
  }
  return stem;
}

io::Matrix<float> load_floats(const std::string& path, const char* default_dataset, const char* what) {
  auto reader = io::open_matrix(path, default_dataset);
  io::Matrix<float> m;
  m.rows = reader->rows();
  m.cols = reader->cols();
  m.data.resize(m.rows * m.cols);
  Progress progress(std::string("loading ") + what, m.rows, "vectors");
  io::for_each_float_chunk(*reader, 65536, [&](size_t begin, size_t count, const float* rows) {
    std::copy(rows, rows + count * m.cols, m.data.begin() + std::ptrdiff_t(begin * m.cols));
    progress.update(begin + count);
  });
  progress.finish();
  return m;
}

void normalize_rows(io::Matrix<float>& m) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < int64_t(m.rows); ++i) {
    float* x = m.row(size_t(i));
    double s = 0;
    for (size_t j = 0; j < m.cols; ++j) s += double(x[j]) * x[j];
    if (s > 0) {
      const float inv = float(1 / std::sqrt(s));
      for (size_t j = 0; j < m.cols; ++j) x[j] *= inv;
    }
  }
}

bool hdf5_has_dataset(const std::string& file, const std::string& name) {
  if (!io::hdf5_supported()) return false;
  const auto names = io::hdf5_dataset_names(file);
  return std::find(names.begin(), names.end(), name) != names.end();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  TQ_CHECK(f.good(), path << ": cannot open for writing");
  f << text;
  f.flush();
  TQ_CHECK(f.good(), path << ": write failed");
}

}  // namespace

CommandSpec bench_command_spec() {
  CommandSpec s;
  s.name = "bench";
  s.summary = "Build each index spec on the base vectors, search the queries, and report bits/vector, build time, "
              "QPS and recall against exact ground truth (computed with BLAS when not given).";
  s.flags = {
      {"base", "FILE", "base vectors (.fvecs .bvecs .fbin .u8bin .i8bin .npy .hdf5[:dataset], HDF5 default 'train')",
       true, ""},
      {"queries", "FILE", "query vectors (HDF5 default 'test'; may be omitted when --base is an HDF5 file)", false,
       ""},
      {"gt", "FILE", "ground-truth ids (.ivecs .ibin .npy, HDF5 'neighbors'), at least max(--k) per query", false,
       ""},
      {"save-gt", "FILE", "write the computed ground truth (top max(--k) ids) here (.ivecs .ibin .npy)", false, ""},
      {"specs", "LIST",
       "index descriptions, comma-separated (TQ2,TQ4,TQ4,QJL,PQ32,PQ64x4fs,SQ8,Flat); ';' separates when "
       "descriptions are ambiguous",
       true, ""},
      {"metric", "METRIC", "ip, l2 or cos (default l2; an ann-benchmarks HDF5 file's distance attribute)", false, ""},
      {"k", "LIST", "k of the K-recall@K figures; the search uses k = max(LIST)", false, "1,10,100"},
      {"threads", "LIST", "search thread counts, one result row each (build uses the largest)", false, "1"},
      {"train-size", "N", "training sample for FAISS types that train (PQ, SQ, IVF); 0 = all base vectors", false,
       "0"},
      {"json", "FILE", "write results as JSON (schema: tools/cli/bench_report.h)", false, ""},
      {"csv", "FILE", "write results as CSV", false, ""},
  };
  for (FlagSpec& f : scan_param_flags()) {
    f.help += "; applies to every TurboQuant spec of the run";
    s.flags.push_back(f);
  }
  s.details =
      "recall@1 = fraction of queries whose top result is the true nearest neighbor; K-R@K = |top-K ∩ true "
      "top-K| / K;\nrecall@1@k = fraction of queries whose true nearest neighbor is in the top k.\n"
      "Build time = training (PQ, SQ, IVF; on --train-size sampled vectors) + adding all base vectors.\n"
      "QPS = nq / wall time of one search call over all queries (best of 3 runs, after a warm-up).\n"
      "FAISS's factory trains PQ<M> (8-bit) with polysemous training, which costs much time and does not change\n"
      "PQ recall: write PQ<M>np to skip it.\n"
      "Example:\n"
      "  tqsearch bench --base ../shared/data/glove-100-angular/base.fvecs \\\n"
      "    --queries ../shared/data/glove-100-angular/query.fvecs \\\n"
      "    --gt ../shared/data/glove-100-angular/groundtruth.ivecs --metric ip \\\n"
      "    --specs TQ2,TQ4,PQ25,PQ50,Flat --train-size 20000 --json glove.json\n";
  return s;
}

int run_bench(const ParsedArgs& args) {
  const std::string base_path = args.get("base");
  const io::FileLocation base_loc = io::parse_location(base_path);
  const bool base_is_hdf5 = base_loc.format == io::FileFormat::kHdf5;
  std::string queries_path = args.get("queries");
  if (queries_path.empty()) {
    TQ_CHECK(base_is_hdf5, "tqsearch bench: --queries FILE is required (it may be omitted only when --base is an "
                           "HDF5 file with a 'test' dataset)");
    queries_path = base_loc.file + ":test";
  }
  const std::vector<int64_t> ks_arg = args.get_int_list("k", 1, 100000);
  std::vector<size_t> ks(ks_arg.begin(), ks_arg.end());
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  const size_t k_search = ks.back();
  const std::vector<int64_t> threads = args.get_int_list("threads", 1, 4096);
  const int max_threads = int(*std::max_element(threads.begin(), threads.end()));
  const size_t train_size = size_t(args.get_int("train-size", 0, int64_t(1) << 40));
  const std::vector<std::string> specs = split_spec_list(args.get("specs"));
  TQ_CHECK(!(args.has("gt") && args.has("save-gt")), "tqsearch bench: --save-gt writes computed ground truth; it "
                                                     "cannot be combined with --gt");
  IndexMetric metric = IndexMetric::kL2;
  if (args.has("metric")) {
    metric = parse_metric(args.get("metric"));
  } else if (auto m = metric_from_file(base_path)) {
    metric = *m;
  }
  set_threads(max_threads);

  // Headers first: dimensions and every spec are checked before any time is spent.
  size_t d = 0;
  {
    auto base_reader = io::open_matrix(base_path, "train");
    auto query_reader = io::open_matrix(queries_path, "test");
    d = base_reader->cols();
    TQ_CHECK(query_reader->cols() == d, queries_path << ": queries have dimension " << query_reader->cols()
                                                     << ", base vectors " << base_path << " have " << d);
    TQ_CHECK(d <= 65536, base_path << ": dimension " << d << " is larger than 65536");
    TQ_CHECK(k_search <= base_reader->rows(), "--k " << k_search << " is larger than the number of base vectors ("
                                                     << base_reader->rows() << ")");
  }
  {
    IndexTurboQuant probe(8);  // the scan flags' values, checked before any work
    apply_scan_params(probe, args, "", true);
  }
  for (const std::string& spec : specs) {
    try {
      (void)index_factory(int(d), spec, metric);
    } catch (const std::exception& e) {
      TQ_THROW("--specs: '" << spec << "': " << e.what());
    }
  }

  io::Matrix<float> base = load_floats(base_path, "train", "base");
  io::Matrix<float> queries = load_floats(queries_path, "test", "queries");
  const size_t nb = base.rows, nq = queries.rows;
  if (metric == IndexMetric::kCosine) {  // the indexes normalize too; normalizing here serves the ground truth
    normalize_rows(base);
    normalize_rows(queries);
  }

  // Ground truth.
  std::string gt_path = args.get("gt");
  if (gt_path.empty() && base_is_hdf5 && hdf5_has_dataset(base_loc.file, "neighbors")) {
    gt_path = base_loc.file + ":neighbors";
  }
  std::vector<int64_t> gt;
  size_t gt_k = 0;
  if (!gt_path.empty()) {
    const io::Matrix<int64_t> g = io::read_int_matrix(gt_path, "neighbors");
    TQ_CHECK(g.rows == nq, gt_path << ": ground truth has " << g.rows << " rows, the queries " << queries_path
                                   << " are " << nq);
    TQ_CHECK(g.cols >= k_search, gt_path << ": ground truth has " << g.cols << " neighbors per query; --k "
                                         << k_search << " needs at least " << k_search);
    for (size_t q = 0; q < nq; ++q) {
      for (size_t j = 0; j < k_search; ++j) {
        const int64_t id = g.data[q * g.cols + j];
        TQ_CHECK(id >= 0 && size_t(id) < nb, gt_path << ": row " << q << ", rank " << j << ": id " << id
                                                     << " is not a row of the base (0.." << nb - 1 << ")");
      }
    }
    gt = g.data;
    gt_k = g.cols;
    std::fprintf(stderr, "ground truth: %s (%zu per query)\n", gt_path.c_str(), gt_k);
  } else {
    Progress progress("ground truth (exact, BLAS)", nb, "base vectors");
    ExactKnnResult r = exact_knn(base.data.data(), nb, queries.data.data(), nq, d, k_search,
                                 metric != IndexMetric::kL2, [&](size_t done) { progress.update(done); });
    progress.finish();
    gt = std::move(r.ids);
    gt_k = k_search;
    if (args.has("save-gt")) {
      io::write_matrix(args.get("save-gt"), io::MatrixView::of(gt.data(), nq, gt_k));
      std::fprintf(stderr, "saved ground truth to %s\n", args.get("save-gt").c_str());
    }
  }
  const eval::NeighborTable truth{gt.data(), nq, gt_k};

  BenchReport report;
  report.dataset = dataset_name(base_path);
  report.d = d;
  report.nb = nb;
  report.nq = nq;
  report.metric = metric_short_name(metric);
  report.machine = machine_info();
  report.ks = ks;
  std::printf("dataset %s: nb=%zu nq=%zu d=%zu metric=%s k=%zu | %s, %d cores\n\n", report.dataset.c_str(), nb, nq,
              d, report.metric.c_str(), k_search, report.machine.cpu_model.c_str(), report.machine.cores);
  std::printf("%s", bench_table_header(report).c_str());
  std::fflush(stdout);

  std::vector<float> dist(nq * k_search);
  std::vector<int64_t> ids(nq * k_search);
  for (const std::string& spec : specs) {
    set_threads(max_threads);
    std::fprintf(stderr, "[%s] building\n", spec.c_str());
    std::unique_ptr<faiss::Index> index = index_factory(int(d), spec, metric);
    apply_scan_params(*index, args, spec, false);
    double train_s = 0;
    if (!index->is_trained) {
      const double t0 = now_seconds();
      const std::vector<size_t> rows = sample_row_ids(nb, train_size);
      std::vector<float> sample(rows.size() * d);
      for (size_t i = 0; i < rows.size(); ++i) std::copy_n(base.row(rows[i]), d, sample.data() + i * d);
      std::fprintf(stderr, "[%s] training on %zu vectors\n", spec.c_str(), rows.size());
      index->train(faiss::Index::idx_t(rows.size()), sample.data());
      train_s = now_seconds() - t0;
    }
    const double t0 = now_seconds();
    {
      Progress progress("[" + spec + "] adding", nb, "vectors");
      for (size_t b = 0; b < nb; b += 65536) {
        const size_t n = std::min<size_t>(65536, nb - b);
        index->add(faiss::Index::idx_t(n), base.row(b));
        progress.update(b + n);
      }
      progress.finish();
    }
    const double build_s = train_s + now_seconds() - t0;

    for (int64_t t : threads) {
      set_threads(int(t));
      // Warm-up (page faults, lazily built tables), then one timed batch of all queries.
      index->search(faiss::Index::idx_t(std::min<size_t>(nq, 16)), queries.data.data(), faiss::Index::idx_t(k_search), dist.data(),
                    ids.data());
      // Best of up to 3 timed runs (this machine is shared: the minimum is the least disturbed); one run when a
      // run takes over 5 s. Every run returns the same results.
      double search_s = 0;
      for (int run = 0; run < 3; ++run) {
        const double s0 = now_seconds();
        index->search(faiss::Index::idx_t(nq), queries.data.data(), faiss::Index::idx_t(k_search), dist.data(),
                      ids.data());
        const double s = now_seconds() - s0;
        search_s = run == 0 ? s : std::min(search_s, s);
        if (s > 5.0) break;
      }
      BenchResult r;
      r.spec = spec;
      r.threads = int(t);
      r.bits_per_vector = bits_per_vector(*index);
      r.bytes_per_vector = bytes_per_vector(*index);
      r.build_seconds = build_s;
      r.search_seconds = search_s;
      r.qps = search_s > 0 ? double(nq) / search_s : 0;
      r.recall = eval::summarize_recall(eval::NeighborTable{ids.data(), nq, k_search}, truth, ks);
      report.results.push_back(r);
      std::printf("%s", bench_table_row(report, r).c_str());
      std::fflush(stdout);
    }
  }
  if (args.has("json")) {
    write_text(args.get("json"), bench_json(report));
    std::fprintf(stderr, "wrote %s\n", args.get("json").c_str());
  }
  if (args.has("csv")) {
    write_text(args.get("csv"), bench_csv(report));
    std::fprintf(stderr, "wrote %s\n", args.get("csv").c_str());
  }
  return 0;
}

}  // namespace tqsearch::cli
