// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/turbo_quantizer.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "quant/error.h"
#include "test_data.h"

namespace tqsearch {
namespace {

double mean_distortion(const TurboQuantizer& tq, const std::vector<float>& unit_rows) {
  const int d = tq.d();
  const size_t n = unit_rows.size() / d;
  std::vector<uint8_t> codes(n * tq.code_size());
  std::vector<float> rec(unit_rows.size());
  tq.encode(n, unit_rows.data(), codes.data());
  tq.decode(n, codes.data(), rec.data());
  double s = 0;
  for (size_t i = 0; i < unit_rows.size(); ++i) s += double(unit_rows[i] - rec[i]) * (unit_rows[i] - rec[i]);
  return s / n;
}

// TurboQuant Thm 1: E‖x − x̂‖² ≈ 0.363, 0.117, 0.0345, 0.0095 (b = 1..4) and ≤ (√3·π/2)·4^−b for unit x.
TEST(TurboQuantMse, DistortionMatchesTheoryOnRandomAndRealVectors) {
  const double measured[] = {0.363, 0.117, 0.0345, 0.0095};
  std::vector<std::pair<std::string, std::vector<float>>> sets;
  for (int d : {128, 384}) {
    auto x = testing::gaussian(2000, d, 11 + d);
    testing::normalize_rows(x, d);
    sets.push_back({"random" + std::to_string(d), x});
  }
  int gd = 0;
  auto glove = testing::read_fvecs(testing::data_path("glove-100-angular/base.fvecs"), &gd, 2000);
  if (!glove.empty()) {
    testing::normalize_rows(glove, gd);
    sets.push_back({"glove100", glove});
  } else {
    std::printf("glove-100-angular not found under %s: real-data case skipped\n", TQSEARCH_DATA_DIR);
  }
  for (const auto& [name, x] : sets) {
    const int d = name == "glove100" ? gd : std::stoi(name.substr(6));
    for (int b = 1; b <= 8; ++b) {
      TurboQuantizerOptions o;
      o.bits = b;
      TurboQuantizer tq(d, o);
      const double dist = mean_distortion(tq, x);
      EXPECT_LT(dist, std::sqrt(3.0) * M_PI / 2 * std::pow(4.0, -b)) << name << " b=" << b;
      if (b <= 4) EXPECT_NEAR(dist / measured[b - 1], 1.0, 0.05) << name << " b=" << b << " dist=" << dist;
    }
  }
}

// Alg. 2: E[⟨q, x̃⟩] = ⟨q, x⟩ over the randomness of Π and S; Var ≤ (√3·π²/d)·4^−b·‖q‖² with b the total bits
// (our mse bits + 1 QJL bit).
class TurboQuantProd : public ::testing::TestWithParam<std::tuple<QjlKind, int>> {};

TEST_P(TurboQuantProd, InnerProductIsUnbiasedAndUnderVarianceBound) {
  const auto [kind, mse_bits] = GetParam();
  const int d = 128;
  const int trials = 3000;
  const uint64_t seed = 4242;
  std::printf("seed %llu, %d trials\n", (unsigned long long)seed, trials);
  auto xq = testing::gaussian(2, d, seed);
  std::vector<float> x(xq.begin(), xq.begin() + d), q(xq.begin() + d, xq.end());
  testing::normalize_rows(x, d);
  testing::normalize_rows(q, d);
  double truth = 0;
  for (int j = 0; j < d; ++j) truth += double(x[j]) * q[j];
  double sum = 0, sum2 = 0;
  for (int t = 0; t < trials; ++t) {
    TurboQuantizerOptions o;
    o.bits = mse_bits;
    o.qjl = true;
    o.qjl_kind = kind;
    o.rotation.seed = seed * 1000003 + t;
    o.qjl_seed = seed * 7919 + t;
    TurboQuantizer tq(d, o);
    std::vector<uint8_t> code(tq.code_size());
    tq.encode(1, x.data(), code.data());
    const float est = tq.inner_product(tq.prepare_query(q.data()), code.data(), Estimator::kQjl);
    const double e = est - truth;
    sum += e;
    sum2 += e * e;
  }
  const double mean = sum / trials;
  const double var = sum2 / trials - mean * mean;
  const double se = std::sqrt(var / trials);
  EXPECT_LT(std::abs(mean), 3 * se) << "bias " << mean << " vs standard error " << se;
  const double bound = std::sqrt(3.0) * M_PI * M_PI / d * std::pow(4.0, -(mse_bits + 1));
  EXPECT_LT(var, bound) << "variance " << var << " bound " << bound;
}

INSTANTIATE_TEST_SUITE_P(BitsAndSketches, TurboQuantProd,
                         ::testing::Combine(::testing::Values(QjlKind::kGaussian, QjlKind::kStructured),
                                            ::testing::Values(1, 2, 3, 4)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == QjlKind::kGaussian ? "Gaussian" : "Structured") +
                                  "_mse" + std::to_string(std::get<1>(info.param));
                         });

TEST(TurboQuantizer, MseEstimatorIsBiasedLowAndRenormCorrectsIt) {
  // The mse estimate shrinks ⟨q, x⟩ by ρ on average; ‖x‖·⟨Πq, ŷ⟩/ρ removes that shrinkage.
  const int d = 128, n = 4000;
  auto x = testing::gaussian(n, d, 77);
  auto q = testing::gaussian(1, d, 78);
  TurboQuantizerOptions o;
  o.bits = 2;
  o.store_renorm = true;
  TurboQuantizer tq(d, o);
  std::vector<uint8_t> codes(n * tq.code_size());
  tq.encode(n, x.data(), codes.data());
  const PreparedQuery pq = tq.prepare_query(q.data());
  double slope_mse = 0, slope_renorm = 0, tt = 0;
  for (int i = 0; i < n; ++i) {
    double t = 0;
    for (int j = 0; j < d; ++j) t += double(x[i * d + j]) * q[j];
    const uint8_t* c = codes.data() + i * tq.code_size();
    slope_mse += t * tq.inner_product(pq, c, Estimator::kMse);
    slope_renorm += t * tq.inner_product(pq, c, Estimator::kRenorm);
    tt += t * t;
    // ρ = ⟨y, ŷ⟩ as stored.
    if (i < 5) {
      std::vector<float> y(x.begin() + i * d, x.begin() + (i + 1) * d), yh(d);
      testing::normalize_rows(y, d);
      tq.rotation().forward(1, y.data(), y.data());
      tq.decode_rotated_unit(c, yh.data());
      double rho = 0;
      for (int j = 0; j < d; ++j) rho += double(y[j]) * yh[j];
      EXPECT_NEAR(tq.factors(c).renorm, rho, 1e-5);
    }
  }
  // Regression slope of estimate on truth: ≈ 1 − D_b (D_2 ≈ 0.117) for mse, ≈ 1 for renorm.
  EXPECT_NEAR(slope_mse / tt, 1 - 0.117, 0.03);
  EXPECT_NEAR(slope_renorm / tt, 1.0, 0.03);
}

TEST(TurboQuantizer, ZeroVectorEncodesWithoutNaN) {
  TurboQuantizerOptions o;
  o.store_renorm = true;
  o.qjl = true;
  TurboQuantizer tq(100, o);
  std::vector<float> z(100, 0.f), rec(100, 1.f);
  std::vector<uint8_t> code(tq.code_size());
  tq.encode(1, z.data(), code.data());
  tq.decode(1, code.data(), rec.data());
  for (float v : rec) EXPECT_EQ(v, 0.f);
  auto q = testing::gaussian(1, 100, 1);
  const PreparedQuery pq = tq.prepare_query(q.data());
  for (Estimator e : {Estimator::kMse, Estimator::kRenorm, Estimator::kQjl}) EXPECT_EQ(tq.inner_product(pq, code.data(), e), 0.f);
}

TEST(TurboQuantizer, RejectsNonFiniteRowsNamingTheRow) {
  TurboQuantizer tq(16);
  auto x = testing::gaussian(10, 16, 2);
  x[7 * 16 + 3] = std::nanf("");
  std::vector<uint8_t> codes(10 * tq.code_size());
  try {
    tq.encode(10, x.data(), codes.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 7"), std::string::npos) << e.what();
  }
  x[7 * 16 + 3] = INFINITY;
  EXPECT_THROW(tq.encode(10, x.data(), codes.data()), Error);
  std::vector<float> q(16, 0.f);
  q[2] = -INFINITY;
  EXPECT_THROW(tq.prepare_query(q.data()), Error);
}

TEST(TurboQuantizer, RejectsBadOptions) {
  EXPECT_THROW(TurboQuantizer(0), Error);
  TurboQuantizerOptions o;
  o.bits = 0;
  EXPECT_THROW(TurboQuantizer(16, o), Error);
  o.bits = 9;
  EXPECT_THROW(TurboQuantizer(16, o), Error);
  o.bits = 4;
  TurboQuantizer tq(16, o);
  EXPECT_THROW(tq.encode(1, nullptr, nullptr), Error);
  auto q = testing::gaussian(1, 16, 3);
  std::vector<uint8_t> code(tq.code_size());
  tq.encode(1, q.data(), code.data());
  EXPECT_THROW(tq.inner_product(tq.prepare_query(q.data()), code.data(), Estimator::kRenorm), Error);
  EXPECT_THROW(tq.inner_product(tq.prepare_query(q.data()), code.data(), Estimator::kQjl), Error);
}

// dot_rotated's documented summation order (8 lanes by j mod 8, then the fixed tree): the contract that lets the
// AVX2 rescoring kernel and the GPU rerank return the same float. Written out here from ŷ, for uniform, fractional
// (two codebooks) and 8-bit codes and d not a multiple of 8.
TEST(TurboQuantizer, DotRotatedSumsInTheDocumentedLaneOrder) {
  for (double bits : {1.0, 2.5, 3.0, 4.0, 8.0}) {
    for (int d : {1, 13, 100, 130}) {
      TurboQuantizerOptions o;
      o.bits = bits;
      TurboQuantizer tq(d, o);
      auto x = testing::gaussian(20, d, 70 + d);
      auto q = testing::gaussian(2, d, 80 + d);
      std::vector<uint8_t> rows(20 * tq.code_size());
      tq.encode(20, x.data(), rows.data());
      std::vector<float> y(d);
      for (int i = 0; i < 2; ++i) {
        const PreparedQuery pq = tq.prepare_query(q.data() + i * d);
        for (int v = 0; v < 20; ++v) {
          const uint8_t* code = rows.data() + v * tq.code_size();
          tq.decode_rotated_unit(code, y.data());
          float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          for (int j = 0; j < d; ++j) l[j % 8] = l[j % 8] + pq.rotated[j] * y[j];
          const float want = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
          ASSERT_EQ(tq.dot_rotated(pq, code), want) << "bits " << bits << " d " << d << " v " << v;
        }
      }
    }
  }
}

TEST(TurboQuantizer, CodeSizeCountsEverySection) {
  TurboQuantizerOptions o;
  o.bits = 4;
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 50u + 4u);
  o.store_renorm = true;
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 50u + 8u);
  o.qjl = true;
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 50u + 8u + 4u + 13u);
  o.fp16_norm = true;
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 50u + 6u + 4u + 13u);
  o = {};
  o.bits = 2.5;
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 32u + 4u);
  o = {};
  o.store_renorm = true;
  o.fold_renorm = true;  // one slot for ‖x‖/ρ
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 50u + 4u);
  o.fp16_norm = true;
  EXPECT_EQ(TurboQuantizer(100, o).code_size(), 50u + 2u);
}

// fold_renorm keeps the renormalized estimate in one number: the same indices as the unfolded code, a scale equal
// to ‖x‖/ρ of the unfolded code (one float division, so exact in f32 and within f16 rounding otherwise), the same
// estimate up to the rounding of the different operation order, decode = (‖x‖/ρ)·Πᵀŷ; the mse estimator is refused.
TEST(TurboQuantizer, FoldRenormKeepsTheRenormalizedEstimateInOneScale) {
  const int d = 100;
  const size_t n = 203;
  auto x = testing::clustered(n, d, 5, 41);
  for (int j = 0; j < d; ++j) x[size_t(17) * d + j] = 0.0f;  // a zero row
  auto q = testing::gaussian(3, d, 42);
  for (double bits : {1.0, 3.5, 4.0}) {
    for (bool fp16 : {false, true}) {
      TurboQuantizerOptions o;
      o.bits = bits;
      o.store_renorm = true;
      TurboQuantizer plain(d, o);
      o.fold_renorm = true;
      o.fp16_norm = fp16;
      TurboQuantizer fold(d, o);
      EXPECT_EQ(fold.code_size(), plain.code_size() - (fp16 ? 6 : 4));
      std::vector<uint8_t> a(n * plain.code_size()), b(n * fold.code_size());
      plain.encode(n, x.data(), a.data());
      fold.encode(n, x.data(), b.data());
      EXPECT_FALSE(fold.supports(Estimator::kMse));
      EXPECT_TRUE(fold.supports(Estimator::kRenorm));
      std::vector<float> ra(d), rb(d);
      // f16 rounding of the scale: relative 2^-11; the estimates differ by that plus the f32 operation order.
      const float rel = fp16 ? 1.0f / 2048 : 4e-7f;
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* ca = a.data() + i * plain.code_size();
        const uint8_t* cb = b.data() + i * fold.code_size();
        const std::string what = "bits " + std::to_string(bits) + " fp16 " + std::to_string(fp16) + " row " +
                                 std::to_string(i);
        ASSERT_EQ(0, std::memcmp(ca, cb, plain.mse_bytes())) << what;
        const VectorFactors fa = plain.factors(ca), fb = fold.factors(cb);
        const float s = fa.norm / fa.renorm;
        EXPECT_EQ(fb.renorm, 1.0f) << what;
        if (fp16) {
          EXPECT_NEAR(fb.norm, s, s / 2048) << what;
        } else {
          EXPECT_EQ(fb.norm, s) << what;
        }
        if (i == 17) EXPECT_EQ(fb.norm, 0.0f) << what;
        for (size_t qi = 0; qi < 3; ++qi) {
          const PreparedQuery pq = plain.prepare_query(q.data() + qi * d);
          const float ea = plain.inner_product(pq, ca, Estimator::kRenorm);
          const float eb = fold.inner_product(pq, cb, Estimator::kRenorm);
          EXPECT_NEAR(eb, ea, rel * (std::abs(ea) + 1e-6f) + 1e-7f) << what << " query " << qi;
        }
        plain.decode(1, ca, ra.data());
        fold.decode(1, cb, rb.data());
        for (int j = 0; j < d; ++j)
          EXPECT_NEAR(rb[j], ra[j] / fa.renorm, rel * (std::abs(ra[j] / fa.renorm) + 1e-6f) + 1e-7f) << what;
      }
      const PreparedQuery pq = fold.prepare_query(q.data());
      try {
        fold.inner_product(pq, b.data(), Estimator::kMse);
        FAIL() << "expected an error";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fold_renorm"), std::string::npos) << e.what();
      }
    }
  }
  TurboQuantizerOptions o;
  o.fold_renorm = true;
  EXPECT_THROW(TurboQuantizer(16, o), Error);  // needs store_renorm
  o.store_renorm = true;
  o.qjl = true;
  EXPECT_THROW(TurboQuantizer(16, o), Error);  // excludes QJL
}

// A float16 norm slot holds at most 65504: a row whose stored value (‖x‖, or ‖x‖/ρ folded) would not fit is
// refused with its row number instead of being stored as Inf.
TEST(TurboQuantizer, RejectsScalesAFloat16SlotCannotHold) {
  const int d = 64;
  const size_t n = 300;
  auto x = testing::gaussian(n, d, 43);
  testing::normalize_rows(x, d);
  // ρ = ⟨y, ŷ⟩ is near 0.99 at 4 bits but not below 1 for every row (‖ŷ‖ may exceed 1): use the row of least ρ.
  TurboQuantizerOptions o;
  o.store_renorm = true;
  TurboQuantizer plain(d, o);
  std::vector<uint8_t> pc(n * plain.code_size());
  plain.encode(n, x.data(), pc.data());
  size_t bad = 0;
  for (size_t i = 1; i < n; ++i)
    if (plain.factors(pc.data() + i * plain.code_size()).renorm < plain.factors(pc.data() + bad * plain.code_size()).renorm)
      bad = i;
  const float rho = plain.factors(pc.data() + bad * plain.code_size()).renorm;
  ASSERT_LT(rho, 65400.0f / 65520.0f) << "row " << bad;  // so that 65400/ρ rounds past the float16 maximum
  ASSERT_GT(rho, 30000.0f / 65504.0f) << "row " << bad;  // so that 30000/ρ fits
  for (bool fold : {false, true}) {
    o.fp16_norm = true;
    o.fold_renorm = fold;
    TurboQuantizer tq(d, o);
    std::vector<uint8_t> codes(n * tq.code_size());
    auto y = x;
    // fold: ‖x‖ = 65400 fits, ‖x‖/ρ does not; plain: ‖x‖ = 70000 does not.
    const float big = fold ? 65400.0f : 70000.0f;
    for (int j = 0; j < d; ++j) y[bad * d + j] *= big;
    try {
      tq.encode(n, y.data(), codes.data());
      FAIL() << "expected an error (fold " << fold << ")";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("row " + std::to_string(bad)), std::string::npos) << m;
      EXPECT_NE(m.find("65504"), std::string::npos) << m;
    }
    for (int j = 0; j < d; ++j) y[bad * d + j] = x[bad * d + j] * 30000.0f;  // fits either way
    tq.encode(n, y.data(), codes.data());
    EXPECT_TRUE(std::isfinite(tq.factors(codes.data() + bad * tq.code_size()).norm));
  }
}

TEST(TurboQuantizer, EncodeIsIdenticalAcrossThreadCountsAndFp16NormIsClose) {
  const int d = 96;
  auto x = testing::gaussian(3000, d, 9);
  TurboQuantizerOptions o;
  o.store_renorm = true;
  o.qjl = true;
  TurboQuantizer tq(d, o);
  std::vector<uint8_t> a(3000 * tq.code_size()), b(a.size());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  tq.encode(3000, x.data(), a.data());
  omp_set_num_threads(std::max(2, saved));
  tq.encode(3000, x.data(), b.data());
  omp_set_num_threads(saved);
  EXPECT_EQ(a, b);
  o.fp16_norm = true;
  TurboQuantizer th(d, o);
  std::vector<uint8_t> c(th.code_size());
  th.encode(1, x.data(), c.data());
  EXPECT_NEAR(th.factors(c.data()).norm, tq.factors(a.data()).norm, 1e-3 * tq.factors(a.data()).norm);
}

TEST(TurboQuantizer, FractionalRateDistortionLiesBetweenNeighbours) {
  const int d = 128;
  auto x = testing::gaussian(1000, d, 5);
  testing::normalize_rows(x, d);
  std::vector<double> dist;
  for (double r : {2.0, 2.5, 3.0, 3.5, 4.0}) {
    TurboQuantizerOptions o;
    o.bits = r;
    dist.push_back(mean_distortion(TurboQuantizer(d, o), x));
  }
  for (size_t i = 0; i + 1 < dist.size(); ++i) EXPECT_LT(dist[i + 1], dist[i]) << i;
}

}  // namespace
}  // namespace tqsearch

namespace tqsearch {
namespace {

// optimize_cosine picks, per vector, indices whose cosine with y is at least that of the nearest centroids.
TEST(TurboQuantizer, OptimizeCosineNeverLowersTheCosine) {
  const int d = 100, n = 500;
  auto x = testing::clustered(n, d, 10, 8);
  for (double bits : {2.0, 3.0, 4.0, 2.5}) {
    TurboQuantizerOptions o;
    o.bits = bits;
    o.store_renorm = true;
    TurboQuantizer plain(d, o);
    o.optimize_cosine = true;
    TurboQuantizer opt(d, o);
    std::vector<uint8_t> a(n * plain.code_size()), b(n * opt.code_size());
    plain.encode(n, x.data(), a.data());
    opt.encode(n, x.data(), b.data());
    int better = 0;
    for (int i = 0; i < n; ++i) {
      // ρ = ⟨y, ŷ⟩; cosine = ρ/‖ŷ‖.
      std::vector<float> ya(d), yb(d);
      plain.decode_rotated_unit(a.data() + i * plain.code_size(), ya.data());
      opt.decode_rotated_unit(b.data() + i * opt.code_size(), yb.data());
      double na = 0, nb = 0;
      for (int j = 0; j < d; ++j) {
        na += double(ya[j]) * ya[j];
        nb += double(yb[j]) * yb[j];
      }
      const double ca = plain.factors(a.data() + i * plain.code_size()).renorm / std::sqrt(na);
      const double cb = opt.factors(b.data() + i * opt.code_size()).renorm / std::sqrt(nb);
      EXPECT_GE(cb, ca - 1e-6) << "row " << i << " bits " << bits;
      better += cb > ca + 1e-9;
    }
    EXPECT_GT(better, 0) << "bits " << bits;
  }
  TurboQuantizerOptions bad;
  bad.optimize_cosine = true;  // without store_renorm
  EXPECT_THROW(TurboQuantizer(d, bad), Error);
}

// encode() works on groups of rows (their ρ sums interleave): a row's code must not depend on its neighbours,
// the group boundaries or the thread count — every row equals the row encoded alone.
TEST(TurboQuantizer, RowCodesDoNotDependOnTheirGroup) {
  const int d = 100;
  const size_t n = 103;  // groups of 4 and a tail of 3; above the size that opens an OpenMP region
  auto x = testing::clustered(n, d, 5, 31);
  for (int j = 0; j < d; ++j) x[size_t(9) * d + j] = 0.0f;  // a zero row inside a group
  for (int variant = 0; variant < 10; ++variant) {
    TurboQuantizerOptions o;
    o.bits = variant == 3 ? 2.5 : (variant >= 5 && variant != 9 ? 1 : 4);
    o.store_renorm = variant != 1 && variant != 6 && variant != 7;  // 5: 1 bit renorm, 6: 1 bit QJL, 7: 1 bit mse
    o.qjl = variant == 1 || variant == 6;
    o.fp16_norm = variant == 2 || variant == 9;
    o.optimize_cosine = variant == 4;
    o.fold_renorm = variant == 8 || variant == 9;  // 8: 1 bit folded, 9: 4 bits folded into an f16 slot
    TurboQuantizer tq(d, o);
    const size_t cs = tq.code_size();
    std::vector<uint8_t> all(n * cs), one(cs);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      tq.encode(n, x.data(), all.data());
      for (size_t i = 0; i < n; ++i) {
        tq.encode(1, x.data() + i * d, one.data());
        EXPECT_EQ(0, std::memcmp(one.data(), all.data() + i * cs, cs)) << "variant " << variant << " row " << i;
      }
    }
  }
}

// The sweep of optimize_cosine is exact over its scale range: no nearest-centroid code of t·y, for any t in
// [1/4, 4] (a fine grid, plus t = 1), has a larger cosine with y than the code it picks.
TEST(TurboQuantizer, OptimizeCosineIsTheBestCodeOverItsScaleRange) {
  const uint64_t seed = 77;
  std::printf("[seed] %llu\n", static_cast<unsigned long long>(seed));
  for (int d : {100, 128}) {
    const int n = 60;
    auto x = testing::clustered(n, d, 6, seed + d);
    for (double bits : {2.0, 3.0, 4.0, 3.5}) {
      TurboQuantizerOptions o;
      o.bits = bits;
      o.store_renorm = true;
      o.optimize_cosine = true;
      TurboQuantizer tq(d, o);
      const int nh = tq.allocation().num_high();
      const LloydMaxCodebook& lo = tq.codebook(tq.allocation().low_bits());
      const LloydMaxCodebook& hi = nh > 0 ? tq.codebook(tq.allocation().high_bits()) : lo;
      std::vector<uint8_t> codes(n * tq.code_size());
      tq.encode(n, x.data(), codes.data());
      std::vector<float> y(d), yh(d);
      for (int i = 0; i < n; ++i) {
        const float* row = x.data() + size_t(i) * d;
        double ss = 0;
        for (int j = 0; j < d; ++j) ss += double(row[j]) * row[j];
        const float inv = float(1.0 / std::sqrt(ss));
        for (int j = 0; j < d; ++j) y[j] = row[j] * inv;
        tq.rotation().forward(1, y.data(), y.data());
        tq.decode_rotated_unit(codes.data() + size_t(i) * tq.code_size(), yh.data());
        auto cosine = [&](const std::vector<float>& c) {
          double dot = 0, nn = 0;
          for (int j = 0; j < d; ++j) {
            dot += double(y[j]) * c[j];
            nn += double(c[j]) * c[j];
          }
          return dot / std::sqrt(nn);
        };
        const double picked = cosine(yh);
        std::vector<float> c(d);
        for (int s = 0; s <= 1500; ++s) {
          const double t = s == 1500 ? 1.0 : 0.25 * std::pow(16.0, s / 1499.0);
          for (int j = 0; j < d; ++j) {
            const LloydMaxCodebook& cb = j < nh ? hi : lo;
            const float v = float(t * y[j]);
            int best = 0;
            for (int k = 1; k < cb.size(); ++k) {
              if (std::fabs(cb.centroids()[k] - v) < std::fabs(cb.centroids()[best] - v)) best = k;
            }
            c[j] = cb.centroids()[best];
          }
          ASSERT_LE(cosine(c), picked + 1e-6) << "d " << d << " bits " << bits << " row " << i << " t " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tqsearch

namespace tqsearch {
namespace {

TEST(TurboQuantizer, RejectsNormOverflowWithoutTerminating) {
  const int d = 64;
  const size_t n = 5000;  // large enough for the parallel path
  auto x = testing::gaussian(n, d, 12);
  for (int j = 0; j < d; ++j) x[4321 * d + j] = 3e38f;  // finite values, norm > FLT_MAX
  TurboQuantizer tq(d);
  std::vector<uint8_t> codes(n * tq.code_size());
  try {
    tq.encode(n, x.data(), codes.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 4321"), std::string::npos) << e.what();
  }
}

// encode_centered gives exactly the codes of encode() on the explicitly subtracted rows (every option, tails of
// the groups of rows, a row equal to the mean), and names the row when x − mean is not finite.
TEST(TurboQuantizer, EncodeCenteredEqualsEncodeOfTheSubtractedRows) {
  for (int d : {1, 7, 64, 100, 130}) {
    const size_t n = 103;
    auto x = testing::clustered(n, d, 5, 40 + d);
    const auto mean = testing::gaussian(1, d, 50 + d);
    for (int j = 0; j < d; ++j) x[size_t(11) * d + j] = mean[size_t(j)];  // centers to the zero vector
    std::vector<float> centered(x.size());
    for (size_t i = 0; i < n; ++i)
      for (int j = 0; j < d; ++j) centered[i * d + j] = x[i * d + j] - mean[size_t(j)];
    for (int variant = 0; variant < 6; ++variant) {
      TurboQuantizerOptions o;
      o.bits = variant == 3 ? 2.5 : (variant == 5 ? 1 : 4);
      o.store_renorm = variant != 1;
      o.qjl = variant == 1;
      o.fp16_norm = variant == 2;
      o.optimize_cosine = variant == 4;
      TurboQuantizer tq(d, o);
      std::vector<uint8_t> want(n * tq.code_size()), got(n * tq.code_size(), 0xEE);
      tq.encode(n, centered.data(), want.data());
      tq.encode_centered(n, x.data(), mean.data(), got.data());
      EXPECT_EQ(want, got) << "d " << d << " variant " << variant;
    }
  }
  TurboQuantizer tq(16);
  auto x = testing::gaussian(10, 16, 3);
  std::vector<float> mean(16, 0.5f);
  std::vector<uint8_t> codes(10 * tq.code_size());
  x[6 * 16 + 2] = 3e38f;
  mean[2] = -3e38f;  // finite input, x − mean overflows to +inf
  try {
    tq.encode_centered(10, x.data(), mean.data(), codes.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 6 minus the mean has a non-finite value"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(tq.encode_centered(10, x.data(), nullptr, codes.data()), Error);
}

}  // namespace
}  // namespace tqsearch
