// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/eval/recall.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/tools/test_util.h"

namespace tqsearch::eval {
namespace {

// 4 queries, results k = 4, truth k = 4 (hand-computed figures below).
const std::vector<int64_t> kTruth = {
    10, 11, 12, 13,  //
    20, 21, 22, 23,  //
    30, 31, 32, 33,  //
    40, 41, 42, 43,
};
const std::vector<int64_t> kResults = {
    10, 12, 99, 11,  // top-1 right; top-2 ∩ = {10}; top-4 ∩ = {10, 11, 12}
    21, 20, 23, 22,  // top-1 wrong, true NN at rank 1; top-4 ∩ = all
    -1, -1, -1, -1,  // nothing found
    43, 42, 41, 40,  // true NN at rank 3
};

NeighborTable table(const std::vector<int64_t>& v, size_t k) { return {v.data(), v.size() / k, k}; }

TEST(Recall, RecallAt1CountsExactTopOneMatches) {
  EXPECT_DOUBLE_EQ(recall_at_1(table(kResults, 4), table(kTruth, 4)), 0.25);
}

TEST(Recall, KRecallAtKIsTheMeanIntersectionOverK) {
  EXPECT_DOUBLE_EQ(k_recall_at_k(table(kResults, 4), table(kTruth, 4), 1), 0.25);
  // k = 2: q0 {10,12}∩{10,11} = 1; q1 {21,20}∩{20,21} = 2; q2 0; q3 {43,42}∩{40,41} = 0 → 3/8
  EXPECT_DOUBLE_EQ(k_recall_at_k(table(kResults, 4), table(kTruth, 4), 2), 3.0 / 8);
  // k = 4: 3 + 4 + 0 + 4 = 11 of 16
  EXPECT_DOUBLE_EQ(k_recall_at_k(table(kResults, 4), table(kTruth, 4), 4), 11.0 / 16);
}

TEST(Recall, Recall1AtKIsWhereTheTrueNearestNeighborLands) {
  const auto r = table(kResults, 4), t = table(kTruth, 4);
  EXPECT_DOUBLE_EQ(recall1_at_k(r, t, 1), 0.25);
  EXPECT_DOUBLE_EQ(recall1_at_k(r, t, 2), 0.5);
  EXPECT_DOUBLE_EQ(recall1_at_k(r, t, 3), 0.5);
  EXPECT_DOUBLE_EQ(recall1_at_k(r, t, 4), 0.75);
}

TEST(Recall, RepeatedResultIdsCountOnce) {
  const std::vector<int64_t> truth = {1, 2}, results = {1, 1};
  EXPECT_DOUBLE_EQ(k_recall_at_k(table(results, 2), table(truth, 2), 2), 0.5);
}

TEST(Recall, SummaryUsesPowersOfTwoUpToResultsK) {
  const RecallSummary s = summarize_recall(table(kResults, 4), table(kTruth, 4), {1, 4, 10});
  EXPECT_DOUBLE_EQ(s.recall_at_1, 0.25);
  EXPECT_EQ(s.k_recall_at_k.size(), 2u);  // 10 > k is left out
  EXPECT_DOUBLE_EQ(s.k_recall_at_k.at(4), 11.0 / 16);
  ASSERT_EQ(s.recall1_at_k.size(), 3u);  // 1, 2, 4
  EXPECT_DOUBLE_EQ(s.recall1_at_k.at(4), 0.75);
}

TEST(Recall, BadArgumentsAreErrors) {
  using tqsearch::testing::expect_error;
  const auto r = table(kResults, 4), t = table(kTruth, 4);
  expect_error([&] { k_recall_at_k(r, t, 5); }, {"k = 5", "1..4"});
  expect_error([&] { recall1_at_k(r, t, 0); }, {"k = 0"});
  const std::vector<int64_t> short_truth = {1, 2};
  expect_error([&] { recall_at_1(r, table(short_truth, 1)); }, {"4 queries", "ground truth has 2"});
  const std::vector<int64_t> bad_truth = {-1, 2, 3, 4, 5, 6, 7, 8};
  expect_error([&] { recall_at_1(table(kResults, 4), table(bad_truth, 2)); }, {"query 0", "id -1"});
}

}  // namespace
}  // namespace tqsearch::eval
