// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/spec_list.h"

#include <gtest/gtest.h>

#include "tests/tools/test_util.h"

namespace tqsearch::cli {
namespace {

using V = std::vector<std::string>;

TEST(SpecList, TheIssueExampleSplitsIntoItsSevenDescriptions) {
  EXPECT_EQ(split_spec_list("TQ2,TQ4,TQ4,QJL,PQ32,PQ64x4fs,SQ8,Flat"),
            (V{"TQ2", "TQ4", "TQ4,QJL", "PQ32", "PQ64x4fs", "SQ8", "Flat"}));
}

TEST(SpecList, OptionsJoinTheDescriptionBeforeThemAndPrefixesTheOneAfter) {
  EXPECT_EQ(split_spec_list("IDMap,HNSW32,TQ4,Renorm,RFlat,TQ2.5,MSE"),
            (V{"IDMap,HNSW32,TQ4,Renorm,RFlat", "TQ2.5,MSE"}));
  EXPECT_EQ(split_spec_list("IVF256,PQ16,OPQ16,PQ16,Flat"), (V{"IVF256,PQ16", "OPQ16,PQ16", "Flat"}));
  EXPECT_EQ(split_spec_list("HNSW32,Flat"), (V{"HNSW32", "Flat"}));  // HNSW prefixes only TQ tokens
  EXPECT_EQ(split_spec_list("PQ50,Refine(Flat)"), (V{"PQ50,Refine(Flat)"}));
  // Every TQ option token stays with its TQ description (Scan<b> only with digits: "Scan" alone is not one).
  EXPECT_EQ(split_spec_list("TQ4,Center,OptCos,Norm16,TQ4,Scan2,PQ64x4fs"),
            (V{"TQ4,Center,OptCos,Norm16", "TQ4,Scan2", "PQ64x4fs"}));
  EXPECT_EQ(split_spec_list("TQ4,Scan2,Lut63,TQ4,Lut127,PQ64x4fs"), (V{"TQ4,Scan2,Lut63", "TQ4,Lut127", "PQ64x4fs"}));
}

TEST(SpecList, SemicolonsSplitVerbatim) {
  EXPECT_EQ(split_spec_list("HNSW32,Flat; TQ4,QJL ;Flat"), (V{"HNSW32,Flat", "TQ4,QJL", "Flat"}));
}

TEST(SpecList, MalformedListsAreErrors) {
  using tqsearch::testing::expect_error;
  expect_error([] { split_spec_list("QJL,TQ4"); }, {"'QJL'", "cannot come first"});
  expect_error([] { split_spec_list("TQ4,,Flat"); }, {"empty item"});
  expect_error([] { split_spec_list("TQ4,IDMap"); }, {"'IDMap'", "needs a description after it"});
  expect_error([] { split_spec_list("TQ4;;Flat"); }, {"empty description"});
}

}  // namespace
}  // namespace tqsearch::cli
