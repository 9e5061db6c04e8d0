// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// End-to-end tests of the `tqsearch` binary: build → info → search → bench, the output formats, the error
// contract (one line on stderr, non-zero exit, no crash), and "recall of the CLI bench equals the library's own
// figure" (same data, same index description, recall from tools/eval/recall.h on a direct library search).
//
// Data: siftsmall from $TQSEARCH_DATA_DIR or the configured TQSEARCH_DATA_DIR (../shared/data) when present;
// otherwise generated clustered integer data (2000 × 24), so the tests never depend on the shared tree. Ground truth is brute force in double precision, ties to smaller ids.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <omp.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "index/index_factory.h"
#include "index/index_io.h"
#include "tests/tools/cli/mini_json.h"
#include "tests/tools/test_util.h"
#include "tools/eval/recall.h"
#include "tools/io/file_format.h"
#include "tools/io/hdf5_format.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"

namespace tqsearch::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using tqsearch::testing::Json;
using tqsearch::testing::parse_json;
using tqsearch::testing::read_file;
using tqsearch::testing::TempDir;

struct CliResult {
  int status = -1;
  std::string out, err;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs the tqsearch binary with stdout/stderr captured in files (so stderr is not a terminal: plain progress).
CliResult run_cli(const TempDir& dir, const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string tag = std::to_string(counter++);
  const std::string out = dir.file("cli" + tag + ".out"), err = dir.file("cli" + tag + ".err");
  std::string cmd = shell_quote(TQSEARCH_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  const int raw = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

size_t count_lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

/// The error contract: non-zero status; the error is one line, the last on stderr, starting "tqsearch: error:"
/// (progress lines of the work done before it may precede it); no crash text.
void expect_one_line_error(const CliResult& r, int status, std::initializer_list<std::string_view> parts) {
  EXPECT_EQ(r.status, status) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n');
  const size_t start = r.err.rfind('\n', r.err.size() - 2);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  EXPECT_THAT(last, ::testing::StartsWith("tqsearch: error: ")) << r.err;
  size_t error_lines = 0;
  for (size_t p = r.err.find("tqsearch: error:"); p != std::string::npos; p = r.err.find("tqsearch: error:", p + 1)) {
    ++error_lines;
  }
  EXPECT_EQ(error_lines, 1u) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("terminate called")));
  EXPECT_THAT(r.err, Not(HasSubstr("Aborted")));
  for (auto p : parts) EXPECT_THAT(last, HasSubstr(std::string(p)));
}

/// Brute-force top-k in double precision, ties → smaller id.
std::vector<int64_t> brute_force(const io::Matrix<float>& base, const io::Matrix<float>& q, size_t k) {
  std::vector<int64_t> out(q.rows * k);
  std::vector<std::pair<double, int64_t>> all(base.rows);
  for (size_t i = 0; i < q.rows; ++i) {
    for (size_t j = 0; j < base.rows; ++j) {
      double s = 0;
      for (size_t c = 0; c < base.cols; ++c) {
        const double t = double(q.row(i)[c]) - base.row(j)[c];
        s += t * t;
      }
      all[j] = {s, int64_t(j)};
    }
    std::partial_sort(all.begin(), all.begin() + std::ptrdiff_t(k), all.end());
    for (size_t j = 0; j < k; ++j) out[i * k + j] = all[j].second;
  }
  return out;
}

/// The dataset every test uses (L2): base, queries and top-100 ground truth as files.
struct Dataset {
  std::string base, queries, gt, name;
  bool real = false;
  io::Matrix<float> base_m, queries_m;
  std::vector<int64_t> gt_ids;  ///< (nq, 100)
  size_t gt_k = 100;
};

class CliEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    data_ = new Dataset();
    const char* env = std::getenv("TQSEARCH_DATA_DIR");  // runtime override of the configured data directory
    const std::string sift = std::string(env != nullptr && *env ? env : TQSEARCH_TEST_DATA_DIR) + "/siftsmall";
    if (std::filesystem::exists(sift + "/base.fvecs") && std::filesystem::exists(sift + "/groundtruth.ivecs")) {
      data_->real = true;
      data_->name = "siftsmall";
      data_->base = sift + "/base.fvecs";
      data_->queries = sift + "/query.fvecs";
      data_->gt = sift + "/groundtruth.ivecs";
      data_->base_m = io::read_float_matrix(data_->base);
      data_->queries_m = io::read_float_matrix(data_->queries);
      data_->gt_ids = io::read_int_matrix(data_->gt).data;
      std::printf("dataset: %s\n", sift.c_str());
      return;
    }
    // Generated: clustered points with small integer coordinates (exact float arithmetic, like SIFT).
    const uint32_t seed = 4242;
    std::printf("dataset: generated clustered data, seed %u (shared siftsmall not found)\n", seed);
    std::mt19937 rng(seed);
    const size_t d = 24, nb = 2000, nq = 50, clusters = 20;
    std::uniform_int_distribution<int> center(0, 60), noise(-4, 4), pick(0, int(clusters) - 1);
    std::vector<float> centers(clusters * d);
    for (auto& c : centers) c = float(center(rng));
    auto make = [&](size_t n) {
      io::Matrix<float> m;
      m.rows = n;
      m.cols = d;
      m.data.resize(n * d);
      for (size_t i = 0; i < n; ++i) {
        const size_t c = size_t(pick(rng));
        for (size_t j = 0; j < d; ++j) m.row(i)[j] = centers[c * d + j] + float(noise(rng));
      }
      return m;
    };
    data_->name = "generated";
    data_->base_m = make(nb);
    data_->queries_m = make(nq);
    data_->gt_ids = brute_force(data_->base_m, data_->queries_m, 100);
    data_->base = dir_->file("generated/base.fvecs");
    std::filesystem::create_directories(dir_->file("generated"));
    data_->queries = dir_->file("generated/query.fvecs");
    data_->gt = dir_->file("generated/groundtruth.ivecs");
    io::write_matrix(data_->base, io::MatrixView::of(data_->base_m));
    io::write_matrix(data_->queries, io::MatrixView::of(data_->queries_m));
    io::write_matrix(data_->gt, io::MatrixView::of(data_->gt_ids.data(), nq, 100));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete dir_;
    data_ = nullptr;
    dir_ = nullptr;
  }

  /// Library figure: the same description built in-process, searched with k, recall against the same truth.
  static eval::RecallSummary library_recall(const std::string& spec, size_t k, std::vector<int64_t>* ids_out = nullptr) {
    omp_set_num_threads(1);
    const Dataset& ds = *data_;
    auto index = index_factory(int(ds.base_m.cols), spec, faiss::METRIC_L2);
    if (!index->is_trained) index->train(faiss::Index::idx_t(ds.base_m.rows), ds.base_m.data.data());
    index->add(faiss::Index::idx_t(ds.base_m.rows), ds.base_m.data.data());
    std::vector<float> dist(ds.queries_m.rows * k);
    std::vector<int64_t> ids(ds.queries_m.rows * k);
    index->search(faiss::Index::idx_t(ds.queries_m.rows), ds.queries_m.data.data(), faiss::Index::idx_t(k),
                  dist.data(), ids.data());
    if (ids_out != nullptr) *ids_out = ids;
    return eval::summarize_recall({ids.data(), ds.queries_m.rows, k}, {ds.gt_ids.data(), ds.queries_m.rows, ds.gt_k},
                                  {1, 10, 100});
  }

  static TempDir* dir_;
  static Dataset* data_;
};

TempDir* CliEndToEnd::dir_ = nullptr;
Dataset* CliEndToEnd::data_ = nullptr;

// ---------------------------------------------------------------------------------------------------------------

TEST(CliBasics, VersionAndTopLevelHelp) {
  TempDir dir;
  const CliResult v = run_cli(dir, {"--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_THAT(v.out, ::testing::StartsWith("tqsearch 0."));
  EXPECT_THAT(v.out, HasSubstr("SIMD"));
  const CliResult h = run_cli(dir, {"--help"});
  EXPECT_EQ(h.status, 0);
  for (const char* c : {"build", "search", "info", "bench"}) EXPECT_THAT(h.out, HasSubstr(c));
  const CliResult none = run_cli(dir, {});
  EXPECT_EQ(none.status, 2);
  EXPECT_THAT(none.err, HasSubstr("usage: tqsearch COMMAND"));
}

TEST(CliBasics, EveryCommandHasHelpListingTheIssueFlags) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"build", {"--input", "--spec", "--metric", "--ids", "--threads", "--out"}},
      {"search", {"--index", "--queries", "--k", "--rerank", "--out"}},
      {"info", {"INDEX"}},
      {"bench", {"--base", "--queries", "--gt", "--save-gt", "--specs", "--k", "--threads", "--json", "--csv"}},
  };
  for (const auto& [cmd, flags] : cases) {
    const CliResult r = run_cli(dir, {cmd, "--help"});
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("usage: tqsearch " + cmd)) << cmd;
    for (const auto& f : flags) EXPECT_THAT(r.out, HasSubstr(f)) << cmd;
    EXPECT_EQ(r.err, "");
  }
}

TEST_F(CliEndToEnd, ErrorsAreOneLineWithNonZeroStatus) {
  TempDir dir;
  const Dataset& ds = *data_;
  // usage errors: status 2
  expect_one_line_error(run_cli(dir, {"frobnicate"}), 2, {"unknown command 'frobnicate'"});
  expect_one_line_error(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4"}), 2, {"--out FILE is required"});
  expect_one_line_error(run_cli(dir, {"search", "--index", "x", "--queries", "y", "--bogus"}), 2,
                        {"unknown flag --bogus"});
  // failures: status 1
  const std::string bytes = read_file(ds.base);
  tqsearch::testing::write_file(dir.file("trunc.fvecs"), bytes.substr(0, bytes.size() - 3));
  expect_one_line_error(run_cli(dir, {"build", "--input", dir.file("trunc.fvecs"), "--spec", "TQ4", "--out",
                                      dir.file("t.tqs")}),
                        1, {"trunc.fvecs", "truncated"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.tqs")));
  expect_one_line_error(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ99", "--out", dir.file("t.tqs")}), 1,
                        {"TQ99"});
  expect_one_line_error(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--metric", "hamming", "--out",
                                      dir.file("t.tqs")}),
                        1, {"unknown metric 'hamming'"});
  tqsearch::testing::write_file(dir.file("garbage.tqs"), std::string(333, 'x'));
  expect_one_line_error(run_cli(dir, {"info", dir.file("garbage.tqs")}), 1, {});
  expect_one_line_error(run_cli(dir, {"info", dir.file("missing.tqs")}), 1, {"missing.tqs"});
  expect_one_line_error(run_cli(dir, {"bench", "--base", ds.base, "--queries", ds.queries, "--specs", "Flat", "--k",
                                      "0"}),
                        1, {"--k", "out of range"});
  expect_one_line_error(run_cli(dir, {"bench", "--base", ds.base, "--queries", ds.queries, "--specs", "TQ4,NoSuchIndex"}),
                        1, {"--specs", "NoSuchIndex"});
  // queries of the wrong dimension
  std::vector<float> q(3 * 7, 1.f);
  io::write_matrix(dir.file("q7.fvecs"), io::MatrixView::of(q.data(), 3, 7));
  ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--out", dir.file("ok.tqs")}).status, 0);
  expect_one_line_error(run_cli(dir, {"search", "--index", dir.file("ok.tqs"), "--queries", dir.file("q7.fvecs")}), 1,
                        {"q7.fvecs", "dimension 7"});
  expect_one_line_error(run_cli(dir, {"search", "--index", dir.file("ok.tqs"), "--queries", ds.queries, "--rerank",
                                      "exact"}),
                        1, {"RFlat"});
  expect_one_line_error(run_cli(dir, {"search", "--index", dir.file("ok.tqs"), "--queries", ds.queries, "--rerank",
                                      "qjl"}),
                        1, {"QJL"});
}

TEST_F(CliEndToEnd, BuildInfoSearchProduceTheLibraryResults) {
  TempDir dir;
  const Dataset& ds = *data_;
  const std::string index = dir.file("tq4.tqs");
  const CliResult b = run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--metric", "l2", "--threads", "1",
                                    "--out", index});
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_THAT(b.out, HasSubstr("built " + index + ": " + std::to_string(ds.base_m.rows) + " vectors"));
  EXPECT_THAT(b.out, HasSubstr("bytes/vector"));
  // stderr is a file: plain progress lines, a final summary, no carriage returns
  EXPECT_THAT(b.err, HasSubstr("adding: " + std::to_string(ds.base_m.rows) + " vectors in"));
  EXPECT_EQ(b.err.find('\r'), std::string::npos);

  const CliResult info = run_cli(dir, {"info", index});
  ASSERT_EQ(info.status, 0) << info.err;
  for (const std::string& f : std::vector<std::string>{"type          IndexTurboQuant", "d             " + std::to_string(ds.base_m.cols),
                              "metric        l2", "count         " + std::to_string(ds.base_m.rows),
                              "bits          4 per coordinate", "rotation      randomized Hadamard",
                              "format        tqsearch record TqFl, format version 4", "scan          full codes", "simd", "memory",
                              "file size"}) {
    EXPECT_THAT(info.out, HasSubstr(f));
  }
  // The scan line names a coarse LUT's bound, or says that it has no effect (8-bit codes take int8 products).
  int n_lut = 0;
  for (const auto& [spec, want] : {std::pair<std::string, std::string>{"TQ4,Scan2,Lut63", "prefix, top 2 bits"},
                                   {"TQ4,Scan2,Lut63", "LUT entries 0..63, rows rescored within lut_z = 3"},
                                   {"TQ8,Scan0,Lut63", "lut_max 63 has no effect"}}) {
    const std::string f = dir.file("lut" + std::to_string(n_lut++) + ".tqs");
    ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", spec, "--out", f}).status, 0) << spec;
    const CliResult i = run_cli(dir, {"info", f});
    ASSERT_EQ(i.status, 0) << i.err;
    EXPECT_THAT(i.out, HasSubstr(want)) << spec;
  }

  const CliResult s = run_cli(dir, {"search", "--index", index, "--queries", ds.queries, "--k", "10", "--out",
                                    dir.file("r.ivecs")});
  ASSERT_EQ(s.status, 0) << s.err;
  const io::Matrix<int64_t> got = io::read_int_matrix(dir.file("r.ivecs"));
  ASSERT_EQ(got.rows, ds.queries_m.rows);
  ASSERT_EQ(got.cols, 10u);
  // Same ids as the saved index searched in-process.
  auto loaded = read_index(index.c_str());
  std::vector<float> dist(got.rows * 10);
  std::vector<int64_t> ids(got.rows * 10);
  loaded->search(faiss::Index::idx_t(got.rows), ds.queries_m.data.data(), 10, dist.data(), ids.data());
  EXPECT_EQ(got.data, ids);

  // JSON and TSV carry the same ids (and distances)
  ASSERT_EQ(run_cli(dir, {"search", "--index", index, "--queries", ds.queries, "--k", "10", "--out",
                          dir.file("r.json")})
                .status,
            0);
  const Json j = parse_json(read_file(dir.file("r.json")));
  EXPECT_EQ(j["k"].num(), 10);
  EXPECT_EQ(j["nq"].num(), double(got.rows));
  EXPECT_EQ(j["metric"].str(), "l2");
  ASSERT_EQ(j["results"].size(), got.rows);
  for (size_t q = 0; q < got.rows; ++q) {
    for (size_t c = 0; c < 10; ++c) {
      ASSERT_EQ(j["results"][q]["ids"][c].num(), double(ids[q * 10 + c]));
      ASSERT_FLOAT_EQ(float(j["results"][q]["distances"][c].num()), dist[q * 10 + c]);
    }
  }
  ASSERT_EQ(run_cli(dir, {"search", "--index", index, "--queries", ds.queries, "--k", "10", "--out",
                          dir.file("r.tsv")})
                .status,
            0);
  std::istringstream tsv(read_file(dir.file("r.tsv")));
  std::string line;
  std::getline(tsv, line);
  EXPECT_EQ(line, "query\trank\tid\tdistance");
  size_t rows = 0;
  while (std::getline(tsv, line)) {
    size_t q, rank;
    long long id;
    double dd;
    ASSERT_EQ(std::sscanf(line.c_str(), "%zu\t%zu\t%lld\t%lf", &q, &rank, &id, &dd), 4) << line;
    ASSERT_EQ(id, ids[q * 10 + rank]);
    ++rows;
  }
  EXPECT_EQ(rows, got.rows * 10);
}

TEST_F(CliEndToEnd, BenchJsonRecallEqualsTheLibraryFigure) {
  TempDir dir;
  const Dataset& ds = *data_;
  const CliResult r = run_cli(dir, {"bench", "--base", ds.base, "--queries", ds.queries, "--gt", ds.gt, "--specs",
                                    "TQ4,TQ2,Flat", "--k", "1,10,100", "--threads", "1", "--json", dir.file("b.json"),
                                    "--csv", dir.file("b.csv")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("10-R@10"));
  EXPECT_THAT(r.out, HasSubstr("TQ2"));
  const Json j = parse_json(read_file(dir.file("b.json")));
  EXPECT_EQ(j["dataset"].str(), ds.name);
  EXPECT_EQ(j["d"].num(), double(ds.base_m.cols));
  EXPECT_EQ(j["nb"].num(), double(ds.base_m.rows));
  EXPECT_EQ(j["nq"].num(), double(ds.queries_m.rows));
  EXPECT_EQ(j["metric"].str(), "l2");
  EXPECT_FALSE(j["machine"]["cpu"].str().empty());
  EXPECT_GE(j["machine"]["cores"].num(), 1);
  ASSERT_EQ(j["results"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Json& e = j["results"][i];
    const std::string spec = e["spec"].str();
    EXPECT_EQ(e["threads"].num(), 1);
    EXPECT_GT(e["qps"].num(), 0);
    EXPECT_GT(e["search_seconds"].num(), 0);
    EXPECT_GE(e["build_seconds"].num(), 0);
    EXPECT_DOUBLE_EQ(e["qps"].num(), double(ds.queries_m.rows) / e["search_seconds"].num());
    EXPECT_DOUBLE_EQ(e["bits_per_vector"].num(), 8 * e["bytes_per_vector"].num());  // whole-bit rates only
    std::vector<std::string> keys;
    for (const auto& kv : e["recall1_at_k"].object()) keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, (std::vector<std::string>{"1", "16", "2", "32", "4", "64", "8"}));
    if (spec == "Flat") {
      EXPECT_EQ(e["bytes_per_vector"].num(), 4.0 * double(ds.base_m.cols));
      EXPECT_EQ(e["recall_at_1"].num(), 1.0);  // exact search on exact (integer) data
      EXPECT_EQ(e["recall_at_100"].num(), 1.0);
      continue;
    }
    const eval::RecallSummary lib = library_recall(spec, 100);
    EXPECT_EQ(e["recall_at_1"].num(), lib.recall_at_1) << spec;
    EXPECT_EQ(e["recall_at_10"].num(), lib.k_recall_at_k.at(10)) << spec;
    EXPECT_EQ(e["recall_at_100"].num(), lib.k_recall_at_k.at(100)) << spec;
    for (const auto& [k, v] : lib.recall1_at_k) EXPECT_EQ(e["recall1_at_k"][std::to_string(k)].num(), v) << spec;
    auto index = index_factory(int(ds.base_m.cols), spec, faiss::METRIC_L2);
    EXPECT_EQ(e["bytes_per_vector"].num(), double(index->sa_code_size())) << spec;
    // sanity: far above chance (10/nb); the figures themselves are checked against the library above
    EXPECT_GT(e["recall_at_10"].num(), 20 * 10.0 / double(ds.base_m.rows)) << spec;
  }
  // CSV: header + one row per result, same recall as the JSON
  const std::string csv = read_file(dir.file("b.csv"));
  EXPECT_EQ(count_lines(csv), 4u);
  EXPECT_THAT(csv, HasSubstr("spec,threads,bits_per_vector,bytes_per_vector,build_seconds,search_seconds,qps,"
                             "recall_at_1,recall_at_10,recall_at_100,recall1_at_1"));
}

TEST_F(CliEndToEnd, BenchComputesExactGroundTruthAndSavesIt) {
  TempDir dir;
  const Dataset& ds = *data_;
  const CliResult r = run_cli(dir, {"bench", "--base", ds.base, "--queries", ds.queries, "--specs", "Flat", "--k",
                                    "1,100", "--save-gt", dir.file("gt.ivecs"), "--json", dir.file("b.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ground truth (exact, BLAS): " + std::to_string(ds.base_m.rows) + " base vectors in"));
  const io::Matrix<int64_t> gt = io::read_int_matrix(dir.file("gt.ivecs"));
  ASSERT_EQ(gt.rows, ds.queries_m.rows);
  ASSERT_EQ(gt.cols, 100u);
  EXPECT_EQ(gt.data, ds.gt_ids);  // identical to float64 brute force, ties included (integer data: exact floats)
  const Json j = parse_json(read_file(dir.file("b.json")));
  EXPECT_EQ(j["results"][0]["recall_at_1"].num(), 1.0);
  EXPECT_TRUE(j["results"][0]["recall_at_10"].is_null());  // not requested: null, key kept (stable schema)
  EXPECT_EQ(j["results"][0]["recall_at_100"].num(), 1.0);
}

TEST_F(CliEndToEnd, BuildWithIdsReturnsThoseIds) {
  TempDir dir;
  const Dataset& ds = *data_;
  std::vector<int64_t> ids(ds.base_m.rows);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 1000000 + 3 * int64_t(i);
  io::write_matrix(dir.file("ids.ibin"), io::MatrixView::of(ids.data(), ids.size(), 1));
  ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--out", dir.file("plain.tqs")}).status, 0);
  const CliResult b = run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--ids", dir.file("ids.ibin"),
                                    "--out", dir.file("ids.tqs")});
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_THAT(run_cli(dir, {"info", dir.file("ids.tqs")}).out, HasSubstr("IndexIDMap > IndexTurboQuant"));
  ASSERT_EQ(run_cli(dir, {"search", "--index", dir.file("plain.tqs"), "--queries", ds.queries, "--k", "5", "--out",
                          dir.file("plain.npy")})
                .status,
            0);
  ASSERT_EQ(run_cli(dir, {"search", "--index", dir.file("ids.tqs"), "--queries", ds.queries, "--k", "5", "--out",
                          dir.file("ids.npy")})
                .status,
            0);
  const auto plain = io::read_int_matrix(dir.file("plain.npy")), mapped = io::read_int_matrix(dir.file("ids.npy"));
  ASSERT_EQ(plain.data.size(), mapped.data.size());
  for (size_t i = 0; i < plain.data.size(); ++i) ASSERT_EQ(mapped.data[i], ids[size_t(plain.data[i])]);
  // wrong number of ids
  io::write_matrix(dir.file("few.ibin"), io::MatrixView::of(ids.data(), 10, 1));
  expect_one_line_error(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--ids", dir.file("few.ibin"),
                                      "--out", dir.file("x.tqs")}),
                        1, {"few.ibin", "10 ids for " + std::to_string(ds.base_m.rows) + " vectors"});
}

TEST_F(CliEndToEnd, NpyBinAndHdf5InputsBuildTheSameIndex) {
  TempDir dir;
  const Dataset& ds = *data_;
  io::write_matrix(dir.file("base.npy"), io::MatrixView::of(ds.base_m));
  io::write_matrix(dir.file("base.fbin"), io::MatrixView::of(ds.base_m));
  std::vector<std::string> inputs = {ds.base, dir.file("base.npy"), dir.file("base.fbin")};
  const std::string h5 = dir.file("toy-euclidean.hdf5");
  if (io::hdf5_supported()) {
    io::write_matrix(h5 + ":train", io::MatrixView::of(ds.base_m));
    io::write_matrix(h5 + ":test", io::MatrixView::of(ds.queries_m));
    io::write_matrix(h5 + ":neighbors", io::MatrixView::of(ds.gt_ids.data(), ds.queries_m.rows, ds.gt_k));
    io::write_hdf5_file_attribute(h5, "distance", "euclidean");
    inputs.push_back(h5);
  } else {
    std::printf("HDF5 part skipped: built without HDF5\n");
  }
  std::string first;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string idx = dir.file("i" + std::to_string(i) + ".tqs");
    ASSERT_EQ(run_cli(dir, {"build", "--input", inputs[i], "--spec", "TQ3", "--out", idx}).status, 0) << inputs[i];
    const CliResult s = run_cli(dir, {"search", "--index", idx, "--queries", ds.queries, "--k", "7"});
    ASSERT_EQ(s.status, 0) << s.err;
    if (i == 0) first = s.out;
    EXPECT_EQ(s.out, first) << inputs[i];
  }
  if (io::hdf5_supported()) {  // queries, ground truth and metric all come from the ann-benchmarks file
    const CliResult r = run_cli(dir, {"bench", "--base", h5, "--specs", "Flat", "--json", dir.file("h.json")});
    ASSERT_EQ(r.status, 0) << r.err;
    const Json j = parse_json(read_file(dir.file("h.json")));
    EXPECT_EQ(j["dataset"].str(), "toy-euclidean");
    EXPECT_EQ(j["metric"].str(), "l2");
    EXPECT_EQ(j["nq"].num(), double(ds.queries_m.rows));
    EXPECT_EQ(j["results"][0]["recall_at_100"].num(), 1.0);
    EXPECT_THAT(r.err, HasSubstr("ground truth: " + h5 + ":neighbors"));
  }
}

TEST_F(CliEndToEnd, RerankModesReachTheIndex) {
  TempDir dir;
  const Dataset& ds = *data_;
  ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ2,RFlat", "--out", dir.file("rf.tqs")}).status, 0);
  ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ3,QJL", "--out", dir.file("qjl.tqs")}).status, 0);
  auto search = [&](const std::string& index, const std::string& rerank) {
    std::vector<std::string> a = {"search", "--index", index, "--queries", ds.queries, "--k", "10", "--out",
                                  dir.file("o.ivecs")};
    if (!rerank.empty()) {
      a.push_back("--rerank");
      a.push_back(rerank);
    }
    const CliResult s = run_cli(dir, a);
    EXPECT_EQ(s.status, 0) << s.err;
    return io::read_int_matrix(dir.file("o.ivecs"));
  };
  auto recall10 = [&](const io::Matrix<int64_t>& m) {
    return eval::k_recall_at_k({m.data.data(), m.rows, 10}, {ds.gt_ids.data(), ds.queries_m.rows, ds.gt_k}, 10);
  };
  // Exact rerank of 16·k candidates of a 2-bit scan is near exact; the default factor (4) can only be worse.
  const double wide = recall10(search(dir.file("rf.tqs"), "exact:16"));
  const double base = recall10(search(dir.file("rf.tqs"), ""));
  EXPECT_GE(wide, base);
  EXPECT_GT(wide, 0.9);
  // QJL rerank and no rerank are different estimators: the mode must reach the index and change the ranking.
  const auto qjl = search(dir.file("qjl.tqs"), "qjl:8"), none = search(dir.file("qjl.tqs"), "none");
  EXPECT_NE(qjl.data, none.data);
  std::printf("recall@10: RFlat exact:16 %.3f, default %.3f; TQ3,QJL qjl:8 %.3f, none %.3f\n", wide, base,
              recall10(qjl), recall10(none));
  const double chance = 10.0 / double(ds.base_m.rows);
  EXPECT_GT(recall10(qjl), 10 * chance);
  EXPECT_GT(recall10(none), 10 * chance);
}

// ",Fold" (‖x‖/ρ in one slot) builds for inner product, shows in info with its byte count, and is refused for L2
// with the reason on one line.
TEST_F(CliEndToEnd, FoldedIndexBuildsForInnerProductAndIsRefusedForL2) {
  TempDir dir;
  const Dataset& ds = *data_;
  const std::string fold = dir.file("fold.tqs");
  const CliResult b = run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4,Norm16,Fold", "--metric", "ip",
                                    "--out", fold});
  ASSERT_EQ(b.status, 0) << b.err;
  const CliResult info = run_cli(dir, {"info", fold});
  ASSERT_EQ(info.status, 0) << info.err;
  const size_t bits = 8 * ((ds.base_m.cols * 4 + 7) / 8 + 2);
  EXPECT_THAT(info.out, HasSubstr(std::to_string(bits) + " bits/vector with norm/rho folded into one scale (fp16)"));
  // Centered cosine ranks as L2 on centered unit vectors, unless folded (the IP form); info says which.
  for (const auto& [spec, form] : {std::pair<std::string, std::string>{"TQ4,Center", "ranked as L2 on centered unit"},
                                   {"TQ4,Center,Norm16,Fold", "inner product of the uncentered query plus <q, mean>"}}) {
    const std::string path = dir.file("c.tqs");
    const CliResult bc = run_cli(dir, {"build", "--input", ds.base, "--spec", spec, "--metric", "cosine", "--out", path});
    ASSERT_EQ(bc.status, 0) << bc.err;
    EXPECT_THAT(run_cli(dir, {"info", path}).out, HasSubstr(form)) << spec;
  }
  expect_one_line_error(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4,Norm16,Fold", "--metric", "l2",
                                      "--out", dir.file("l2.tqs")}),
                        1, {"fold_renorm", "L2"});
  EXPECT_FALSE(std::ifstream(dir.file("l2.tqs")).good());  // nothing written
}

// --prefix-z / --lut-max / --lut-z: build saves them as the index defaults, search overrides them (a bound that
// admits every row returns the estimator's exact top-k, as an exhaustive rerank of the full layout does), bench
// takes them for its TurboQuant specs only; bad values and indexes without TurboQuant are refused.
TEST_F(CliEndToEnd, ScanFlagsReachTheIndex) {
  TempDir dir;
  const Dataset& ds = *data_;
  const std::string scan2 = dir.file("scan2.tqs"), full = dir.file("full.tqs"), flat = dir.file("flat.tqs");
  const CliResult b = run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4,Scan2", "--prefix-z", "0.5",
                                    "--lut-max", "63", "--lut-z", "1", "--out", scan2});
  ASSERT_EQ(b.status, 0) << b.err;
  const CliResult info = run_cli(dir, {"info", scan2});
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("rows rescored within z = 0.5"));
  EXPECT_THAT(info.out, HasSubstr("LUT entries 0..63, rows rescored within lut_z = 1"));
  ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", "TQ4", "--out", full}).status, 0);
  ASSERT_EQ(run_cli(dir, {"build", "--input", ds.base, "--spec", "Flat", "--out", flat}).status, 0);
  auto search = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"search", "--queries", ds.queries, "--k", "10", "--out", dir.file("o.ivecs")};
    a.insert(a.end(), extra.begin(), extra.end());
    const CliResult s = run_cli(dir, a);
    EXPECT_EQ(s.status, 0) << s.err;
    return io::read_int_matrix(dir.file("o.ivecs")).data;
  };
  const auto every_row = search({"--index", scan2, "--prefix-z", "1e9", "--lut-z", "1e9"});
  const auto exhaustive = search({"--index", full, "--rerank", "renorm:1000000"});
  EXPECT_EQ(every_row, exhaustive);
  expect_one_line_error(run_cli(dir, {"search", "--index", scan2, "--queries", ds.queries, "--lut-max", "64"}), 1,
                        {"--lut-max", "64"});
  expect_one_line_error(run_cli(dir, {"search", "--index", scan2, "--queries", ds.queries, "--prefix-z", "-1"}), 1,
                        {"--prefix-z", ">= 0"});
  expect_one_line_error(run_cli(dir, {"search", "--index", scan2, "--queries", ds.queries, "--lut-z", "abc"}), 1,
                        {"--lut-z", "not a number"});
  expect_one_line_error(run_cli(dir, {"search", "--index", flat, "--queries", ds.queries, "--prefix-z", "0"}), 1,
                        {"no TurboQuant index"});
  expect_one_line_error(run_cli(dir, {"build", "--input", ds.base, "--spec", "Flat", "--lut-max", "63", "--out",
                                      dir.file("x.tqs")}),
                        1, {"no TurboQuant index"});
  expect_one_line_error(run_cli(dir, {"bench", "--base", ds.base, "--queries", ds.queries, "--specs", "TQ4",
                                      "--lut-max", "100"}),
                        1, {"--lut-max", "100"});
  const CliResult bench = run_cli(dir, {"bench", "--base", ds.base, "--queries", ds.queries, "--gt", ds.gt, "--specs",
                                        "TQ4,Scan2;Flat", "--k", "10", "--lut-max", "63", "--prefix-z", "1e9",
                                        "--lut-z", "1e9", "--json", dir.file("b.json")});
  ASSERT_EQ(bench.status, 0) << bench.err;
  const Json j = parse_json(read_file(dir.file("b.json")));
  ASSERT_EQ(j["results"].size(), 2u);
  // Every row admitted: the estimator's exact top-10, whose recall the exhaustive search above also has.
  const double want = eval::k_recall_at_k({exhaustive.data(), ds.queries_m.rows, 10},
                                          {ds.gt_ids.data(), ds.queries_m.rows, ds.gt_k}, 10);
  EXPECT_EQ(j["results"][0]["recall_at_10"].num(), want);
  EXPECT_EQ(j["results"][1]["recall_at_10"].num(), 1.0);  // Flat: exact, unaffected by the flags
}

}  // namespace
}  // namespace tqsearch::cli
