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
