// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Micro-benchmarks of quant/ (Google Benchmark). Single-threaded unless the name says otherwise.
//   tqsearch_bench_quant --benchmark_filter=Encode     encode throughput (vectors/s per core)
//   tqsearch_bench_quant --benchmark_filter=Build      TurboQuant encode vs FAISS IndexPQ train+add, same data/bits
//   tqsearch_bench_quant --benchmark_filter=Scan       LUT scan kernel per SIMD level
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <memory>
#include <vector>

#include "quant/fast_scan_codes.h"
#include "quant/flat_scanner.h"
#include "quant/hadamard_rotation.h"
#include "quant/internal/random.h"
#include "quant/turbo_quantizer.h"

#ifdef TQSEARCH_BENCH_WITH_FAISS
#include <faiss/IndexPQ.h>
#endif

namespace tqsearch {
namespace {

// Gaussian mixture with anisotropic clusters (not isotropic noise).
std::vector<float> clustered(size_t n, int d, uint64_t seed) {
  internal::Rng rng(seed);
  const int C = 256;
  std::vector<float> centers(size_t(C) * d), scales(size_t(C) * d), x(n * d);
  for (auto& c : centers) c = float(rng.normal());
  for (auto& s : scales) s = float(0.1 + rng.uniform());
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng.next_u64() % C;
    for (int j = 0; j < d; ++j) x[i * d + j] = centers[c * d + j] + scales[c * d + j] * float(rng.normal());
  }
  return x;
}

void BM_Rotation(benchmark::State& state) {
  const int d = int(state.range(0));
  omp_set_num_threads(1);
  HadamardRotation rot(d, 1);
  const size_t n = 1024;
  auto x = clustered(n, d, 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    rot.forward(n, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * d * sizeof(float));
  state.SetLabel(std::string(simd_level_name(simd_level())));
}
BENCHMARK(BM_Rotation)->Arg(100)->Arg(128)->Arg(768)->Arg(1536);

void BM_Encode(benchmark::State& state) {
  const int d = int(state.range(0));
  omp_set_num_threads(1);
  TurboQuantizerOptions o;
  o.bits = double(state.range(1));
  o.store_renorm = state.range(2) != 0;
  TurboQuantizer tq(d, o);
  const size_t n = 4096;
  auto x = clustered(n, d, 2);
  std::vector<uint8_t> codes(n * tq.code_size());
  for (auto _ : state) {
    tq.encode(n, x.data(), codes.data());
    benchmark::DoNotOptimize(codes.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * d * sizeof(float));
}
BENCHMARK(BM_Encode)->ArgsProduct({{100, 128, 768, 1536}, {2, 4}, {0, 1}})->ArgNames({"d", "bits", "renorm"});

void BM_EncodeQjl(benchmark::State& state) {
  const int d = int(state.range(0));
  omp_set_num_threads(1);
  TurboQuantizerOptions o;
  o.bits = 3;
  o.qjl = true;
  TurboQuantizer tq(d, o);
  const size_t n = 2048;
  auto x = clustered(n, d, 3);
  std::vector<uint8_t> codes(n * tq.code_size());
  for (auto _ : state) {
    tq.encode(n, x.data(), codes.data());
    benchmark::DoNotOptimize(codes.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_EncodeQjl)->Arg(128)->Arg(1536);

// Build = everything from float vectors to a searchable code set, on the same 20k vectors, 1 thread.
constexpr size_t kBuildN = 20000;

void BM_BuildTurboQuant(benchmark::State& state) {
  const int d = int(state.range(0));
  omp_set_num_threads(1);
  auto x = clustered(kBuildN, d, 4);
  for (auto _ : state) {
    TurboQuantizerOptions o;
    o.bits = double(state.range(1));
    o.store_renorm = true;
    TurboQuantizer tq(d, o);
    std::vector<uint8_t> codes(kBuildN * tq.code_size());
    tq.encode(kBuildN, x.data(), codes.data());
    FlatScanner sc(tq, Metric::kInnerProduct);
    sc.add(kBuildN, codes.data());
    benchmark::DoNotOptimize(codes.data());
  }
  state.SetItemsProcessed(state.iterations() * kBuildN);
}
BENCHMARK(BM_BuildTurboQuant)->ArgsProduct({{100, 128, 768, 1536}, {2, 4}})->ArgNames({"d", "bits"})->Unit(benchmark::kMillisecond);

#ifdef TQSEARCH_BENCH_WITH_FAISS
// FAISS IndexPQ with 8-bit subquantizers at the same mse bits per vector (M = d·bits/8), train + add.
// Debian's FAISS 1.7.3 is a generic build: a fair cost of training, not of SIMD speed.
void BM_BuildFaissPQ(benchmark::State& state) {
  const int d = int(state.range(0));
  const int M = int(d * state.range(1) / 8);
  omp_set_num_threads(1);
  auto x = clustered(kBuildN, d, 4);
  for (auto _ : state) {
    faiss::IndexPQ pq(d, M, 8, faiss::METRIC_INNER_PRODUCT);
    pq.verbose = false;
    pq.train(kBuildN, x.data());
    pq.add(kBuildN, x.data());
    benchmark::DoNotOptimize(pq.codes.data());
  }
  state.SetItemsProcessed(state.iterations() * kBuildN);
  state.SetLabel("PQ" + std::to_string(M) + "x8");
}
BENCHMARK(BM_BuildFaissPQ)->ArgsProduct({{100, 128, 768, 1536}, {2, 4}})->ArgNames({"d", "bits"})->Unit(benchmark::kMillisecond)->Iterations(1);
#endif

// 65 536 clustered vectors encoded at `bits` and laid out for the scan, plus nq clustered queries (seeded; shared by
// the scan benchmarks).
struct ScanBenchData {
  std::unique_ptr<TurboQuantizer> tq;
  std::unique_ptr<FastScanCodes> codes;
  std::vector<float> queries;
  size_t n = 65536;
};
ScanBenchData scan_bench_data(int d, double bits, int nq) {
  ScanBenchData s;
  TurboQuantizerOptions o;
  o.bits = bits;
  s.tq = std::make_unique<TurboQuantizer>(d, o);
  auto x = clustered(s.n, d, 5);
  std::vector<uint8_t> rows(s.n * s.tq->code_size());
  s.tq->encode(s.n, x.data(), rows.data());
  s.codes = std::make_unique<FastScanCodes>(*s.tq);
  s.codes->add(s.n, rows.data());
  s.queries = clustered(nq, d, 6);
  return s;
}

// The LUT scan alone: nq queries against 64k vectors (codes in L2/L3), per SIMD level.
void BM_Scan(benchmark::State& state) {
  const int d = int(state.range(0));
  const double bits = double(state.range(1));
  const int nq = int(state.range(2));
  const SimdLevel level = static_cast<SimdLevel>(state.range(3));
  if (!simd_level_supported(level)) {
    state.SkipWithError("SIMD level not supported by this CPU");
    return;
  }
  const ScanBenchData data = scan_bench_data(d, bits, nq);
  const TurboQuantizer& tq = *data.tq;
  const FastScanCodes& codes = *data.codes;
  const size_t n = data.n;
  const std::vector<float>& q = data.queries;
  std::vector<QueryLut> luts(nq);
  std::vector<const void*> lp(nq);
  for (int i = 0; i < nq; ++i) {
    codes.build_lut(tq.prepare_query(q.data() + size_t(i) * d).rotated.data(), &luts[i]);
    lp[i] = codes.int8_path() ? static_cast<const void*>(luts[i].q8.data()) : luts[i].lut.data();
  }
  const size_t chunk = 64;  // blocks per call, as FlatScanner does
  std::vector<int32_t> acc(size_t(nq) * chunk * 32);
  for (auto _ : state) {
    for (size_t b = 0; b < codes.num_blocks(); b += chunk) {
      internal::scan_blocks(level, codes, codes.data() + b * codes.block_bytes(), std::min(chunk, codes.num_blocks() - b),
                            lp.data(), nq, acc.data(), chunk * 32);
    }
    benchmark::DoNotOptimize(acc.data());
  }
  state.SetItemsProcessed(state.iterations() * n * nq);  // vector×query pairs
  state.SetBytesProcessed(state.iterations() * codes.num_blocks() * codes.block_bytes());
  state.counters["lookups/s"] = benchmark::Counter(double(state.iterations()) * n * nq * codes.num_groups(),
                                                   benchmark::Counter::kIsRate);
  state.SetLabel(std::string(simd_level_name(level)));
}
BENCHMARK(BM_Scan)
    ->ArgsProduct({{100, 128, 768, 1536}, {1, 2, 4, 8}, {1, 2, 3, 4}, {0, 1, 2}})
    ->ArgNames({"d", "bits", "nq", "simd"});

// The fused scan (scores and threshold compare in registers; a threshold no vector beats, so the sink is never
// called): nq queries against 64k vectors, per LUT precision (lut_max 255 / 127 / 63) and SIMD level.
void FusedSink(void*, int, size_t, const float*, uint32_t) {}
void BM_FusedScan(benchmark::State& state) {
  const int d = int(state.range(0));
  const int nq = int(state.range(1));
  const int lut_max = int(state.range(2));
  const SimdLevel level = static_cast<SimdLevel>(state.range(3));
  if (!simd_level_supported(level)) {
    state.SkipWithError("SIMD level not supported by this CPU");
    return;
  }
  const ScanBenchData data = scan_bench_data(d, 4, nq);
  const TurboQuantizer& tq = *data.tq;
  const FastScanCodes& codes = *data.codes;
  const size_t n = data.n;
  const std::vector<float>& q = data.queries;
  std::vector<QueryLut> luts(nq);
  std::vector<const uint8_t*> lp(nq);
  std::vector<float> scale(nq), bias(nq), thr(nq, INFINITY), mult(codes.num_blocks() * 32, 1.0f);
  for (int i = 0; i < nq; ++i) {
    codes.build_lut(tq.prepare_query(q.data() + size_t(i) * d).rotated.data(), &luts[i], lut_max);
    lp[i] = luts[i].lut.data();
    scale[i] = luts[i].scale;
    bias[i] = luts[i].bias;
  }
  internal::FusedScan fs;
  fs.blocks = codes.data();
  fs.nblocks = codes.num_blocks();
  fs.g2 = codes.num_groups_padded();
  fs.luts = lp.data();
  fs.nq = nq;
  fs.scale = scale.data();
  fs.bias = bias.data();
  fs.mult = mult.data();
  fs.nvalid = n;
  fs.threshold = thr.data();
  fs.lut_max = lut_max;
  fs.sink = FusedSink;
  for (auto _ : state) {
    internal::scan_fused(level, fs);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n * nq);  // vector×query pairs
  state.SetBytesProcessed(state.iterations() * codes.num_blocks() * codes.block_bytes());
  state.counters["lookups/s"] = benchmark::Counter(double(state.iterations()) * n * nq * codes.num_groups(),
                                                   benchmark::Counter::kIsRate);
  state.SetLabel(std::string(simd_level_name(level)));
}
BENCHMARK(BM_FusedScan)
    ->ArgsProduct({{100, 128, 768, 1536}, {1, 4}, {255, 127, 63}, {0, 1, 2}})
    ->ArgNames({"d", "nq", "lut_max", "simd"});

// End-to-end flat search, 1 thread, 100k clustered vectors, batched queries, default renorm rerank.
void BM_FlatSearch(benchmark::State& state) {
  const int d = int(state.range(0));
  omp_set_num_threads(1);
  TurboQuantizerOptions o;
  o.bits = double(state.range(1));
  o.store_renorm = true;
  TurboQuantizer tq(d, o);
  const size_t n = 100000, nq = 64;
  auto x = clustered(n, d, 7);
  std::vector<uint8_t> rows(n * tq.code_size());
  tq.encode(n, x.data(), rows.data());
  FlatScanner sc(tq, Metric::kInnerProduct);
  sc.add(n, rows.data());
  auto q = clustered(nq, d, 8);
  FlatSearchParams p;
  p.estimator = Estimator::kRenorm;
  std::vector<float> D(nq * 10);
  std::vector<int64_t> I(nq * 10);
  for (auto _ : state) {
    sc.search(nq, q.data(), rows.data(), 10, p, D.data(), I.data());
    benchmark::DoNotOptimize(I.data());
  }
  state.SetItemsProcessed(state.iterations() * nq);  // queries
  state.counters["QPS"] = benchmark::Counter(double(state.iterations()) * nq, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FlatSearch)->ArgsProduct({{100, 128}, {2, 4}})->ArgNames({"d", "bits"})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tqsearch

BENCHMARK_MAIN();
