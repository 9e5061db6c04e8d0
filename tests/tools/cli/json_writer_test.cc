// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "tests/tools/cli/mini_json.h"

namespace tqsearch::cli {
namespace {

TEST(JsonWriter, NestedDocumentParsesBackWithExactDoubles) {
  const double third = 1.0 / 3, tiny = 1e-300;
  JsonWriter j;
  j.begin_object().key("name").value("a \"quoted\"\\ name\n\t").key("n").value(int64_t(-42));
  j.key("xs").begin_array().value(third).value(tiny).value(0.5).end_array();
  j.key("ids").begin_inline_array().value(1).value(2).end_array();
  j.key("empty").begin_object().end_object();
  j.key("nan").value(std::numeric_limits<double>::quiet_NaN());
  j.key("ok").value(true);
  j.end_object();
  const testing::Json doc = testing::parse_json(j.str());
  EXPECT_EQ(doc["name"].str(), "a \"quoted\"\\ name\n\t");
  EXPECT_EQ(doc["n"].num(), -42);
  EXPECT_EQ(doc["xs"].size(), 3u);
  EXPECT_EQ(doc["xs"][0].num(), third);  // shortest round-trip form, exact
  EXPECT_EQ(doc["xs"][1].num(), tiny);
  EXPECT_EQ(doc["ids"][1].num(), 2);
  EXPECT_EQ(doc["empty"].size(), 0u);
  EXPECT_TRUE(doc["nan"].is_null());  // non-finite numbers are not JSON: null
  EXPECT_TRUE(doc["ok"].boolean());
}

TEST(JsonWriter, ShortestRepresentation) {
  JsonWriter j;
  j.begin_array().value(0.1).value(0.82).value(1.0).end_array();
  EXPECT_EQ(j.str(), "[\n  0.1,\n  0.82,\n  1\n]\n");
}

}  // namespace
}  // namespace tqsearch::cli
