// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/lloyd_max_codebook.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "quant/error.h"

namespace tqsearch {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Cumulative integrals of the coordinate density on a grid in φ, t = sin φ. With f(t) ∝ (1 − t²)^((d−3)/2),
// f(t) dt ∝ cos^(d−2)(φ) dφ: no endpoint singularity for d >= 2, and the grid follows the mass for large d.
struct Density {
  std::vector<double> phi, m0, m1, m2;  // cumulative ∫w, ∫t·w, ∫t²·w from the left end (normalized: m0.back()=1)

  explicit Density(int d) {
    const double k = std::max(d, 2) - 2.0;
    const double phi_max = std::min(kPi / 2, 14.0 / std::sqrt(std::max(k, 1.0)));
    const int n = (1 << 17) + 1;
    phi.resize(n);
    std::vector<double> w(n), t(n);
    for (int i = 0; i < n; ++i) {
      phi[i] = -phi_max + 2 * phi_max * i / (n - 1);
      t[i] = std::sin(phi[i]);
      const double c = std::cos(phi[i]);
      w[i] = k == 0 ? 1.0 : (c <= 0 ? 0.0 : std::exp(k * std::log(c)));
    }
    m0.assign(n, 0);
    m1.assign(n, 0);
    m2.assign(n, 0);
    for (int i = 1; i < n; ++i) {
      const double h = 0.5 * (phi[i] - phi[i - 1]);
      m0[i] = m0[i - 1] + h * (w[i] + w[i - 1]);
      m1[i] = m1[i - 1] + h * (t[i] * w[i] + t[i - 1] * w[i - 1]);
      m2[i] = m2[i - 1] + h * (t[i] * t[i] * w[i] + t[i - 1] * t[i - 1] * w[i - 1]);
    }
    const double z = m0.back();
    for (int i = 0; i < n; ++i) {
      m0[i] /= z;
      m1[i] /= z;
      m2[i] /= z;
    }
  }

  // Cumulative integrals up to t = b, linearly interpolated in φ.
  struct Cum {
    double m0, m1, m2;
  };
  Cum at(double b) const {
    if (b <= -1) return {0, 0, 0};
    if (b >= 1) return {m0.back(), m1.back(), m2.back()};
    const double p = std::asin(b);
    if (p <= phi.front()) return {0, 0, 0};
    if (p >= phi.back()) return {m0.back(), m1.back(), m2.back()};
    const size_t i = std::upper_bound(phi.begin(), phi.end(), p) - phi.begin();
    const double a = (p - phi[i - 1]) / (phi[i] - phi[i - 1]);
    return {m0[i - 1] + a * (m0[i] - m0[i - 1]), m1[i - 1] + a * (m1[i] - m1[i - 1]),
            m2[i - 1] + a * (m2[i] - m2[i - 1])};
  }
};

}  // namespace

LloydMaxCodebook::LloydMaxCodebook(int d, int bits) : d_(d), bits_(bits) {
  TQ_CHECK(d >= 1, "LloydMaxCodebook: dimension d must be >= 1, got " << d);
  TQ_CHECK(bits >= 1 && bits <= 8, "LloydMaxCodebook: bits must be in 1..8, got " << bits);
  const Density dens(d);
  const int K = 1 << bits;

  // Start from the Panter–Dite point density ∝ f^(1/3) (near-optimal), then Lloyd iterations.
  std::vector<double> c(K);
  {
    const int n = static_cast<int>(dens.phi.size());
    std::vector<double> cum(n, 0);
    const double k = std::max(d, 2) - 2.0;
    auto lam = [&](int i) {
      const double cs = std::cos(dens.phi[i]);
      if (cs <= 0) return 0.0;
      const double w = k == 0 ? 1.0 : std::exp(k * std::log(cs));
      return std::cbrt(w / cs) * cs;
    };
    for (int i = 1; i < n; ++i) cum[i] = cum[i - 1] + 0.5 * (lam(i) + lam(i - 1));
    for (int j = 0; j < K; ++j) {
      const double target = (j + 0.5) / K * cum.back();
      const size_t i = std::lower_bound(cum.begin(), cum.end(), target) - cum.begin();
      c[j] = std::sin(dens.phi[std::min<size_t>(i, n - 1)]);
    }
  }
  std::vector<double> b(K + 1);
  for (int iter = 0; iter < 20000; ++iter) {
    b[0] = -1;
    b[K] = 1;
    for (int j = 1; j < K; ++j) b[j] = 0.5 * (c[j - 1] + c[j]);
    double change = 0;
    Density::Cum lo = dens.at(b[0]);
    for (int j = 0; j < K; ++j) {
      const Density::Cum hi = dens.at(b[j + 1]);
      const double mass = hi.m0 - lo.m0;
      const double nc = mass > 1e-300 ? (hi.m1 - lo.m1) / mass : 0.5 * (b[j] + b[j + 1]);
      change = std::max(change, std::abs(nc - c[j]));
      c[j] = nc;
      lo = hi;
    }
    // Stop when centroids move less than 1e-10 of the coordinate's standard deviation (~1/√d).
    if (change < 1e-10 / std::sqrt(double(d))) break;
  }
  for (int j = 1; j < K; ++j) b[j] = 0.5 * (c[j - 1] + c[j]);
  double mse = 0;
  mass_.assign(K, 0);
  first_.assign(K, 0);
  Density::Cum lo = dens.at(-1);
  for (int j = 0; j < K; ++j) {
    const Density::Cum hi = dens.at(j + 1 < K ? b[j + 1] : 1.0);
    mse += (hi.m2 - lo.m2) - 2 * c[j] * (hi.m1 - lo.m1) + c[j] * c[j] * (hi.m0 - lo.m0);
    mass_[j] = hi.m0 - lo.m0;
    first_[j] = hi.m1 - lo.m1;
    lo = hi;
  }
  mse_ = std::max(mse, 0.0);
  centroids_.resize(K);
  boundaries_.resize(K - 1);
  for (int j = 0; j < K; ++j) centroids_[j] = static_cast<float>(c[j]);
  for (int j = 1; j < K; ++j) boundaries_[j - 1] = 0.5f * (centroids_[j - 1] + centroids_[j]);
}

const LloydMaxCodebook& LloydMaxCodebook::get(int d, int bits) {
  // A memo of immutable values, never invalidated: the one process-wide cache of the library.
  static std::mutex mu;
  static std::map<std::pair<int, int>, std::unique_ptr<LloydMaxCodebook>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[{d, bits}];
  if (!slot) {
    auto cb = std::make_unique<LloydMaxCodebook>(d, bits);  // throws on bad arguments before the slot is filled
    slot = std::move(cb);
  }
  return *slot;
}

std::vector<float> LloydMaxCodebook::prefix_centroids(int prefix_bits) const {
  TQ_CHECK(prefix_bits >= 1 && prefix_bits <= bits_,
           "LloydMaxCodebook::prefix_centroids: prefix_bits must be in 1.." << bits_ << ", got " << prefix_bits);
  if (prefix_bits == bits_) return centroids_;
  const int s = bits_ - prefix_bits;
  std::vector<float> out(size_t(1) << prefix_bits);
  for (size_t p = 0; p < out.size(); ++p) {
    double m0 = 0, m1 = 0, fallback = 0;
    for (size_t j = p << s; j < (p + 1) << s; ++j) {
      m0 += mass_[j];
      m1 += first_[j];
      fallback += centroids_[j];
    }
    // A merged cell of (numerically) zero mass is never hit; its plain centroid average keeps the value finite.
    out[p] = static_cast<float>(m0 > 1e-300 ? m1 / m0 : fallback / double(size_t(1) << s));
  }
  return out;
}

int LloydMaxCodebook::quantize(float t) const {
  return static_cast<int>(std::lower_bound(boundaries_.begin(), boundaries_.end(), t) - boundaries_.begin());
}

}  // namespace tqsearch
