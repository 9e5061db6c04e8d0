// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// GPU encode vs TurboQuantizer::encode on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "gpu/gpu_index_turbo_quant.h"
#include "gpu_test_util.h"
#include "quant/error.h"
#include "quant/hadamard_rotation.h"

namespace tqsearch::gpu {
namespace {

struct EncodeCase {
  int d;
  double bits;
  bool renorm;
  bool fp16_norm;
  bool qjl;
  QjlKind qjl_kind = QjlKind::kStructured;
  RotationKind rotation = RotationKind::kHadamard;
  bool fold = false;  // fold_renorm: ‖x‖/ρ in the norm slot
};

std::string name(const EncodeCase& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "d=%d bits=%.1f renorm=%d fp16=%d qjl=%d(%s) rot=%s fold=%d", c.d, c.bits, c.renorm,
                c.fp16_norm, c.qjl, c.qjl_kind == QjlKind::kStructured ? "structured" : "gaussian",
                c.rotation == RotationKind::kHadamard ? "hadamard" : "dense", c.fold);
  return buf;
}

bool within_one_ulp(float a, float b) { return a == b || std::nextafter(a, b) == b; }

/// Compares GPU and CPU codes. Identical codes are expected; the documented exception (encode_kernels.cuh): the
/// CPU sums ‖x‖², ρ, γ² sequentially in double and the GPU in a tree, so with probability ≈ 1e-7 per vector a
/// factor lands one float ulp apart, and then an index may move by one cell where a coordinate sits on a boundary.
/// Every difference must be of that kind, and rare.
void expect_same_codes(const TurboQuantizer& tq, const std::vector<uint8_t>& gpu, const std::vector<uint8_t>& cpu,
                       size_t n, const std::string& what) {
  const size_t cs = tq.code_size();
  ASSERT_EQ(gpu.size(), cpu.size());
  size_t differing = 0;
  std::vector<uint8_t> ig(tq.d()), ic(tq.d());
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* g = gpu.data() + i * cs;
    const uint8_t* c = cpu.data() + i * cs;
    if (std::memcmp(g, c, cs) == 0) continue;
    if (++differing > 5) continue;  // details of the first few; all are counted
    const VectorFactors fg = tq.factors(g), fc = tq.factors(c);
    EXPECT_TRUE(within_one_ulp(fg.norm, fc.norm)) << what << " row " << i << " norm " << fg.norm << " vs " << fc.norm;
    EXPECT_TRUE(within_one_ulp(fg.renorm, fc.renorm)) << what << " row " << i << " rho " << fg.renorm << " vs "
                                                      << fc.renorm;
    EXPECT_TRUE(within_one_ulp(fg.gamma, fc.gamma)) << what << " row " << i;
    tq.unpack_indices(g, ig.data());
    tq.unpack_indices(c, ic.data());
    int moved = 0;
    for (int j = 0; j < tq.d(); ++j) {
      if (ig[j] != ic[j]) {
        ++moved;
        EXPECT_EQ(std::abs(int(ig[j]) - int(ic[j])), 1) << what << " row " << i << " coordinate " << j;
      }
    }
    EXPECT_LE(moved, 2) << what << " row " << i;
  }
  std::printf("%s: %zu of %zu codes differ (bounded rounding cases)\n", what.c_str(), differing, n);
  EXPECT_LE(differing, n / 10000 + 1) << what;
}

TEST(GpuEncode, MatchesCpuEncodeByteForByte) {
  TQ_REQUIRE_GPU();
  const std::vector<EncodeCase> cases = {
      {128, 4, true, false, false},  {100, 4, true, false, false},  {1536, 4, true, false, false},
      {37, 2, false, false, false},  {96, 3, true, true, false},    {200, 2.5, true, false, false},
      {64, 3.5, true, false, false}, {130, 8, true, false, false},  {256, 1, true, false, true},
      {100, 4, true, false, true},   {1, 2, true, false, false},    {3, 4, false, true, false},
      {100, 3.84, true, true, false, QjlKind::kStructured, RotationKind::kHadamard, true},
      {1536, 4, true, false, false, QjlKind::kStructured, RotationKind::kHadamard, true},
  };
  const uint64_t seed = 20261125;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  for (const EncodeCase& c : cases) {
    TurboQuantizerOptions o;
    o.bits = c.bits;
    o.store_renorm = c.renorm;
    o.fp16_norm = c.fp16_norm;
    o.qjl = c.qjl;
    o.qjl_kind = c.qjl_kind;
    o.rotation.kind = c.rotation;
    o.fold_renorm = c.fold;
    GpuIndexTurboQuant index(c.d, o, Metric::kInnerProduct);
    ASSERT_TRUE(index.gpu_encode_supported()) << name(c);
    const size_t n = c.d >= 1000 ? 3000 : 20000;
    std::vector<float> x = testing::clustered(n, c.d, 50, 0.5f, seed + c.d);
    for (int j = 0; j < c.d; ++j) x[7 * c.d + j] = 0.0f;  // a zero vector
    for (int j = 0; j < c.d; ++j) x[11 * c.d + j] *= 1e-20f;  // a tiny one
    std::vector<uint8_t> cpu(n * index.code_size()), gpu(n * index.code_size(), 0xAB);
    index.quantizer().encode(n, x.data(), cpu.data());
    index.encode(n, x.data(), gpu.data());
    expect_same_codes(index.quantizer(), gpu, cpu, n, name(c));
    // add() keeps the same codes, through several batches and shards-of-one.
    index.add(n / 3, x.data());
    index.add(n - n / 3, x.data() + (n / 3) * c.d);
    const std::vector<uint8_t> stored = index.codes();
    expect_same_codes(index.quantizer(), stored, cpu, n, name(c) + " (add)");
  }
}

TEST(GpuEncode, FallsBackToCpuForDenseRotationAndGaussianSketch) {
  TQ_REQUIRE_GPU();
  for (const EncodeCase& c : {EncodeCase{48, 4, true, false, false, QjlKind::kStructured, RotationKind::kDense},
                              EncodeCase{48, 3, true, false, true, QjlKind::kGaussian, RotationKind::kHadamard}}) {
    TurboQuantizerOptions o;
    o.bits = c.bits;
    o.store_renorm = c.renorm;
    o.qjl = c.qjl;
    o.qjl_kind = c.qjl_kind;
    o.rotation.kind = c.rotation;
    GpuIndexTurboQuant index(c.d, o, Metric::kL2);
    EXPECT_FALSE(index.gpu_encode_supported()) << name(c);
    const size_t n = 500;
    const std::vector<float> x = testing::clustered(n, c.d, 10, 0.3f, 7);
    std::vector<uint8_t> cpu(n * index.code_size()), gpu(n * index.code_size());
    index.quantizer().encode(n, x.data(), cpu.data());
    index.encode(n, x.data(), gpu.data());
    EXPECT_EQ(gpu, cpu) << name(c);
    index.add(n, x.data());
    EXPECT_EQ(index.codes(), cpu) << name(c);
  }
}

TEST(GpuEncode, RejectsNonFiniteRowsWithTheirIndex) {
  TQ_REQUIRE_GPU();
  GpuIndexTurboQuant index(16, {}, Metric::kInnerProduct);
  std::vector<float> x = testing::clustered(100, 16, 4, 0.5f, 3);
  x[42 * 16 + 5] = std::numeric_limits<float>::quiet_NaN();
  try {
    index.add(100, x.data());
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 42"), std::string::npos) << e.what();
  }
  EXPECT_EQ(index.ntotal(), 0u);
  x[42 * 16 + 5] = 1.0f;
  x[10 * 16] = std::numeric_limits<float>::infinity();
  std::vector<uint8_t> codes(100 * index.code_size());
  EXPECT_THROW(index.encode(100, x.data(), codes.data()), Error);
}

TEST(GpuEncode, RejectsNormOverflowLikeTheCpu) {
  TQ_REQUIRE_GPU();
  GpuIndexTurboQuant index(8, {}, Metric::kInnerProduct);
  std::vector<float> x(3 * 8, 1.0f);
  for (int j = 0; j < 8; ++j) x[8 + j] = 3e38f;  // finite entries, ‖x‖ overflows float
  std::vector<uint8_t> codes(3 * index.code_size());
  // (TurboQuantizer::encode rejects it too, but currently throws inside its OpenMP region: std::terminate.
  // Reported to quant/; not called here.)
  EXPECT_THROW(index.encode(3, x.data(), codes.data()), Error);
  EXPECT_THROW(index.add(3, x.data()), Error);
  EXPECT_EQ(index.ntotal(), 0u);
}

// A float16 norm slot holds at most 65504: like the CPU, the GPU encode refuses a row whose stored value (‖x‖, or
// ‖x‖/ρ folded) does not fit instead of storing Inf, and names the row.
TEST(GpuEncode, RejectsScalesAFloat16SlotCannotHold) {
  TQ_REQUIRE_GPU();
  const int d = 64;
  const size_t n = 40;
  for (bool fold : {false, true}) {
    TurboQuantizerOptions o;
    o.store_renorm = true;
    o.fp16_norm = true;
    o.fold_renorm = fold;
    GpuIndexTurboQuant index(d, o, Metric::kInnerProduct);
    std::vector<float> x = testing::clustered(n, d, 4, 0.5f, 11);
    // Row 29 scaled to ‖x‖ = 70000 (plain) or 65400 (fold: ‖x‖/ρ > 65504 unless ρ > 0.998, checked on the CPU).
    double ss = 0;
    for (int j = 0; j < d; ++j) ss += double(x[29 * d + j]) * x[29 * d + j];
    const float scale = float((fold ? 65400.0 : 70000.0) / std::sqrt(ss));
    for (int j = 0; j < d; ++j) x[29 * d + j] *= scale;
    std::vector<uint8_t> cpu(n * index.code_size()), gpu(n * index.code_size());
    EXPECT_THROW(index.quantizer().encode(n, x.data(), cpu.data()), Error) << "fold " << fold;
    try {
      index.add(n, x.data());
      ADD_FAILURE() << "expected an error, fold " << fold;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("row 29"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("65504"), std::string::npos) << e.what();
    }
    EXPECT_EQ(index.ntotal(), 0u);
    EXPECT_THROW(index.encode(n, x.data(), gpu.data()), Error) << "fold " << fold;
  }
}

}  // namespace
}  // namespace tqsearch::gpu
