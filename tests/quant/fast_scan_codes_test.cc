// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// The blocked scan layout built by FastScanCodes::add equals the layout defined in fast_scan_codes.h, computed here
// from the unpacked indices of each row code, for every rate, scan width, d (block tails, partial nibble groups)
// and any split of the rows into add() calls.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/fast_scan_codes.h"
#include "quant/internal/random.h"
#include "quant/turbo_quantizer.h"
#include "test_data.h"

namespace tqsearch {
namespace {

/// The layout of fast_scan_codes.h from first principles: unpack each row code, build every group's nibble, place it.
std::vector<uint8_t> reference_layout(const TurboQuantizer& tq, const FastScanCodes& fs, size_t n,
                                      const uint8_t* rows) {
  const int d = tq.d();
  const size_t nblocks = (n + 31) / 32;
  std::vector<uint8_t> out(nblocks * fs.block_bytes(), 0);
  std::vector<uint8_t> idx(d);
  const int nh = tq.allocation().num_high();
  for (size_t v = 0; v < n; ++v) {
    tq.unpack_indices(rows + v * tq.code_size(), idx.data());
    uint8_t* block = out.data() + (v / 32) * fs.block_bytes();
    const int slot = int(v % 32);
    if (fs.int8_path()) {
      int8_t* row = reinterpret_cast<int8_t*>(block) + size_t(slot) * fs.padded_d();
      for (int j = 0; j < d; ++j) row[j] = fs.int8_table()[(j < nh ? 256 : 0) + idx[j]];
      continue;
    }
    for (int g = 0; g < fs.num_groups(); ++g) {
      const ScanGroup& grp = fs.groups()[g];
      unsigned nib = 0;
      for (int k = 0; k < grp.count; ++k) nib |= unsigned(idx[grp.first + k] >> grp.shift) << (k * grp.bits);
      EXPECT_LT(nib, 16u);
      block[size_t(g) * 16 + (slot & 15)] |= static_cast<uint8_t>(nib << (slot < 16 ? 0 : 4));
    }
  }
  return out;
}

void expect_layout_matches(const TurboQuantizer& tq, int scan_bits, const std::vector<size_t>& splits,
                           bool random_bytes, uint64_t seed) {
  size_t n = 0;
  for (size_t s : splits) n += s;
  std::vector<uint8_t> rows(n * tq.code_size());
  if (random_bytes) {
    // Arbitrary bytes, padding bits of the mse section included (add_sa_codes accepts any codes): they must be
    // ignored exactly as unpacking ignores them.
    internal::Rng rng(seed);
    for (auto& b : rows) b = static_cast<uint8_t>(rng.next_u64());
  } else {
    const std::vector<float> x = testing::gaussian(n, tq.d(), seed);
    tq.encode(n, x.data(), rows.data());
  }
  FastScanCodes fs(tq, scan_bits);
  size_t done = 0;
  for (size_t s : splits) {
    fs.add(s, rows.data() + done * tq.code_size());
    done += s;
  }
  ASSERT_EQ(fs.size(), n);
  const std::vector<uint8_t> want = reference_layout(tq, fs, n, rows.data());
  ASSERT_EQ(fs.num_blocks() * fs.block_bytes(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(int(fs.data()[i]), int(want[i]))
        << "d " << tq.d() << " bits " << tq.options().bits << " scan_bits " << scan_bits << " random " << random_bytes
        << " byte " << i << " (block " << i / fs.block_bytes() << ", offset " << i % fs.block_bytes() << ")";
  }
}

TEST(FastScanCodesLayout, AddEqualsTheLayoutOfTheUnpackedIndices) {
  const uint64_t seed = 20261127;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const std::vector<std::vector<size_t>> splits = {
      {70},                          // two whole blocks and a tail
      {1, 30, 1, 32, 64, 5, 33, 2},  // starts and ends inside blocks, whole blocks between
      {16, 16, 17},                  // half blocks
  };
  for (int d : {1, 2, 3, 5, 7, 8, 9, 16, 31, 33, 100, 101, 102, 103, 128, 130}) {
    for (double bits : {1.0, 2.0, 3.0, 4.0, 1.5, 2.5, 3.5, 5.0, 8.0}) {
      TurboQuantizerOptions o;
      o.bits = bits;
      o.store_renorm = true;
      const TurboQuantizer tq(d, o);
      for (int scan_bits = 0; scan_bits <= 4; ++scan_bits) {
        for (size_t s = 0; s < splits.size(); ++s) {
          for (bool random_bytes : {false, true}) {
            expect_layout_matches(tq, scan_bits, splits[s], random_bytes, seed + d * 131 + s);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST(FastScanCodesLayout, ClearStartsAFreshLayout) {
  TurboQuantizerOptions o;
  o.bits = 1;
  TurboQuantizer tq(100, o);
  const std::vector<float> x = testing::gaussian(50, 100, 7);
  std::vector<uint8_t> rows(50 * tq.code_size());
  tq.encode(50, x.data(), rows.data());
  FastScanCodes a(tq), b(tq);
  a.add(50, rows.data());
  a.clear();
  a.add(40, rows.data() + 10 * tq.code_size());
  b.add(40, rows.data() + 10 * tq.code_size());
  ASSERT_EQ(a.size(), 40u);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.num_blocks() * a.block_bytes()));
}

}  // namespace
}  // namespace tqsearch
