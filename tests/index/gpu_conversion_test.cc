// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// index_cpu_to_gpu / index_gpu_to_cpu: identical codes both ways, same search results on both sides, save/load of
// a GPU index through its CPU form, IndexRefineFlat ↔ GPU refine stage, clear errors for what has no GPU form.
// The tests that need a CUDA device skip without one; the type checks run everywhere.
#include "index/gpu_conversion.h"

#include <gtest/gtest.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexRefine.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "gpu/gpu_device.h"
#include "index/index_io.h"
#include "quant/error.h"

#define TQ_REQUIRE_GPU()                                                         \
  do {                                                                           \
    if (::tqsearch::gpu::device_count() == 0)                                    \
      GTEST_SKIP() << "no CUDA device: " << ::tqsearch::gpu::no_device_reason(); \
  } while (0)

namespace tqsearch {
namespace {

/// n × d Gaussian mixture (seeded; the seed is printed by the callers).
std::vector<float> mixture(size_t n, int d, int clusters, float sigma, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> c(size_t(clusters) * d), x(n * d);
  for (float& v : c) v = g(rng);
  for (size_t i = 0; i < n; ++i) {
    const size_t k = rng() % clusters;
    for (int j = 0; j < d; ++j) x[i * d + j] = c[k * d + j] + sigma * g(rng);
  }
  return x;
}

std::string temp_path(const char* tag) {
  return std::string(::testing::TempDir()) + "/tq_gpu_conversion_" + tag + "_" + std::to_string(getpid()) + ".idx";
}

TEST(GpuConversion, RejectsIndexesWithoutGpuFormBeforeTouchingTheDevice) {
  const int d = 32;
  faiss::IndexFlatL2 flat(d);
  EXPECT_THROW(index_cpu_to_gpu(flat), Error);
  EXPECT_THROW(gpu_search_params_for(flat), Error);
  IndexTurboQuant cosine(d, IndexMetric::kCosine);
  try {
    index_cpu_to_gpu(cosine);
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cosine"), std::string::npos) << e.what();
  }
  IndexTurboQuant tq(d, IndexMetric::kL2);
  faiss::IndexIDMap idmap(&tq);
  try {
    index_cpu_to_gpu(idmap);
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported index type"), std::string::npos) << e.what();
  }
  faiss::IndexFlatL2 base(d), refine_flat(d);
  faiss::IndexRefine not_tq(&base, &refine_flat);  // base is not an IndexTurboQuant
  EXPECT_THROW(index_cpu_to_gpu(not_tq), Error);
  IndexTurboQuantOptions co;
  co.center = true;
  IndexTurboQuant centered(d, IndexMetric::kL2, co);
  std::vector<float> x(64 * d);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) + 3.0f;
  centered.train(64, x.data());
  try {
    index_cpu_to_gpu(centered);
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("centered"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gpu_search_params_for(centered), Error);
}

TEST(GpuConversion, NoDeviceGivesAClearError) {
  if (gpu::device_count() > 0) GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
  IndexTurboQuant tq(16, IndexMetric::kL2);
  try {
    index_cpu_to_gpu(tq);
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

TEST(GpuConversion, CpuIndexSearchesTheSameOnTheGpu) {
  TQ_REQUIRE_GPU();
  const int d = 96, k = 10;
  const size_t n = 2000, nq = 40;  // n ≤ the GPU's candidate limit (2048): every vector reranked on both sides
  const auto x = mixture(n, d, 30, 0.5f, 7), q = mixture(nq, d, 30, 0.5f, 8);
  std::printf("seed 7/8\n");
  // Third case: folded rows (‖x‖/ρ in an f16 slot, "TQ4,Norm16,Fold"), inner product.
  for (int c = 0; c < 3; ++c) {
    const IndexMetric metric = c == 1 ? IndexMetric::kL2 : IndexMetric::kInnerProduct;
    IndexTurboQuantOptions o;
    o.quantizer.fold_renorm = o.quantizer.fp16_norm = c == 2;
    IndexTurboQuant cpu(d, metric, o);
    cpu.add(n, x.data());
    const auto gpu = index_cpu_to_gpu(cpu);
    EXPECT_EQ(gpu->quantizer().options().fold_renorm, c == 2);
    ASSERT_EQ(gpu->ntotal(), n);
    EXPECT_EQ(gpu->codes(), cpu.codes);  // identical row codes
    // Rerank every vector on both sides: same float estimator on the same codes, identical results.
    SearchParametersTurboQuant sp;
    sp.rerank_factor = static_cast<int>(n / k);
    std::vector<float> Dc(nq * k), Dg(nq * k);
    std::vector<faiss::Index::idx_t> Ic(nq * k);
    std::vector<int64_t> Ig(nq * k);
    cpu.search(nq, q.data(), k, Dc.data(), Ic.data(), &sp);
    gpu::GpuSearchParams gp = gpu_search_params_for(cpu);
    EXPECT_EQ(gp.estimator, cpu.options().search.estimator);
    EXPECT_EQ(gp.refine_factor, 0);
    gp.rerank_factor = sp.rerank_factor;
    gpu->search(nq, q.data(), k, gp, Dg.data(), Ig.data());
    for (size_t i = 0; i < nq * k; ++i) {
      EXPECT_EQ(Ig[i], Ic[i]) << "position " << i;
      EXPECT_EQ(Dg[i], Dc[i]) << "position " << i;
    }
  }
}

TEST(GpuConversion, GpuIndexSavedAndLoadedThroughItsCpuForm) {
  TQ_REQUIRE_GPU();
  const int d = 64, k = 5;
  const size_t n = 2000, nq = 30;
  const auto x = mixture(n, d, 20, 0.5f, 17), q = mixture(nq, d, 20, 0.5f, 18);
  std::printf("seed 17/18\n");
  TurboQuantizerOptions o;
  o.bits = 4;
  o.store_renorm = true;
  gpu::GpuIndexTurboQuant built(d, o, Metric::kInnerProduct);
  built.add(n, x.data());
  const auto cpu = index_gpu_to_cpu(built);
  const auto* tq = dynamic_cast<const IndexTurboQuant*>(cpu.get());
  ASSERT_NE(tq, nullptr);
  EXPECT_EQ(tq->codes, built.codes());
  EXPECT_EQ(tq->options().search.estimator, Estimator::kRenorm);
  const std::string path = temp_path("plain");
  tqsearch::write_index(cpu.get(), path.c_str());
  const auto loaded = tqsearch::read_index(path.c_str());
  std::remove(path.c_str());
  const auto back = index_cpu_to_gpu(*loaded);
  EXPECT_EQ(back->codes(), built.codes());
  gpu::GpuSearchParams gp;
  gp.estimator = Estimator::kRenorm;
  std::vector<float> D1(nq * k), D2(nq * k);
  std::vector<int64_t> I1(nq * k), I2(nq * k);
  built.search(nq, q.data(), k, gp, D1.data(), I1.data());
  back->search(nq, q.data(), k, gp, D2.data(), I2.data());
  EXPECT_EQ(I1, I2);
  EXPECT_EQ(D1, D2);
}

TEST(GpuConversion, RefineFlatTravelsWithItsVectors) {
  TQ_REQUIRE_GPU();
  const int d = 64, k = 10;
  const size_t n = 2500, nq = 30;
  const auto x = mixture(n, d, 25, 0.6f, 27), q = mixture(nq, d, 25, 0.6f, 28);
  std::printf("seed 27/28\n");
  auto* base = new IndexTurboQuant(d, IndexMetric::kL2);
  faiss::IndexRefineFlat cpu(base);
  cpu.own_fields = true;
  cpu.k_factor = 4;
  cpu.add(n, x.data());
  const auto gpu = index_cpu_to_gpu(cpu);
  EXPECT_EQ(gpu->refine_storage(), gpu::RefineStorage::kFp32);
  EXPECT_EQ(gpu->vectors(), x);
  EXPECT_EQ(gpu->codes(), base->codes);
  const gpu::GpuSearchParams gp = gpu_search_params_for(cpu);
  EXPECT_EQ(gp.refine_factor, 4);
  // Both refine the same candidate depth exactly; the TQ stages rank the candidates with the same estimator, so
  // the answers agree except where a near-tie decides the last candidate of the TQ stage.
  std::vector<float> Dc(nq * k), Dg(nq * k);
  std::vector<faiss::Index::idx_t> Ic(nq * k);
  std::vector<int64_t> Ig(nq * k);
  cpu.search(nq, q.data(), k, Dc.data(), Ic.data());
  gpu->search(nq, q.data(), k, gp, Dg.data(), Ig.data());
  size_t same = 0;
  for (size_t i = 0; i < nq * k; ++i) {
    if (Ig[i] == Ic[i]) {
      ++same;
      EXPECT_NEAR(Dg[i], Dc[i], 1e-4 * (1 + std::fabs(Dc[i]))) << "position " << i;
    }
  }
  EXPECT_GE(double(same) / double(nq * k), 0.97);
  // Back to the CPU: an IndexRefineFlat with the same codes and vectors, saved and loaded.
  const auto again = index_gpu_to_cpu(*gpu, nullptr, 4);
  const auto* rf = dynamic_cast<const faiss::IndexRefineFlat*>(again.get());
  ASSERT_NE(rf, nullptr);
  EXPECT_EQ(rf->k_factor, 4.0f);
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(rf->refine_index);
  ASSERT_NE(flat, nullptr);
  EXPECT_EQ(std::vector<float>(flat->get_xb(), flat->get_xb() + n * d), x);
  const std::string path = temp_path("refine");
  tqsearch::write_index(again.get(), path.c_str());
  const auto loaded = tqsearch::read_index(path.c_str());
  std::remove(path.c_str());
  std::vector<float> D2(nq * k);
  std::vector<faiss::Index::idx_t> I2(nq * k);
  loaded->search(nq, q.data(), k, D2.data(), I2.data());
  EXPECT_EQ(I2, Ic);  // same codes, vectors and parameters as the original CPU index
}

}  // namespace
}  // namespace tqsearch
