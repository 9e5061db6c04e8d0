// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/arg_parser.h"

#include <gtest/gtest.h>

#include "tests/tools/test_util.h"

namespace tqsearch::cli {
namespace {

using tqsearch::testing::expect_error;

CommandSpec demo_spec() {
  CommandSpec s;
  s.name = "demo";
  s.summary = "A demo command.";
  s.flags = {{"input", "FILE", "input file", true, ""},
             {"k", "K", "neighbors", false, "10"},
             {"verbose", "", "talk more", false, ""}};
  return s;
}

TEST(ArgParser, ValuesSpaceOrEqualsSwitchesAndDefaults) {
  const CommandSpec s = demo_spec();
  ParsedArgs a = parse_args(s, {"--input", "a.fvecs", "--verbose"});
  EXPECT_EQ(a.get("input"), "a.fvecs");
  EXPECT_TRUE(a.has("verbose"));
  EXPECT_FALSE(a.has("k"));
  EXPECT_EQ(a.get_int("k", 1, 100), 10);
  ParsedArgs b = parse_args(s, {"--input=b.npy", "--k=7"});
  EXPECT_EQ(b.get("input"), "b.npy");
  EXPECT_EQ(b.get_int("k", 1, 100), 7);
}

TEST(ArgParser, HelpSkipsRequiredChecks) {
  EXPECT_TRUE(parse_args(demo_spec(), {"--help"}).help());
  EXPECT_TRUE(parse_args(demo_spec(), {"--k", "3", "-h"}).help());
}

TEST(ArgParser, UsageErrorsNameTheCommandAndFlag) {
  const CommandSpec s = demo_spec();
  expect_error([&] { parse_args(s, {"--input", "a", "--bogus", "1"}); },
               {"tqsearch demo", "unknown flag --bogus", "--help"});
  expect_error([&] { parse_args(s, {"--k", "3"}); }, {"--input FILE is required"});
  expect_error([&] { parse_args(s, {"--input"}); }, {"--input needs a value"});
  expect_error([&] { parse_args(s, {"--input", "a", "--input", "b"}); }, {"--input given twice"});
  expect_error([&] { parse_args(s, {"--input", "a", "--verbose=1"}); }, {"--verbose takes no value"});
  expect_error([&] { parse_args(s, {"--input", "a", "stray"}); }, {"unexpected argument 'stray'"});
  expect_error([&] { parse_args(s, {"--input", "a", "-x"}); }, {"unknown option -x"});
}

TEST(ArgParser, IntegersAreCheckedForSyntaxAndRange) {
  const CommandSpec s = demo_spec();
  expect_error([&] { parse_args(s, {"--input", "a", "--k", "ten"}).get_int("k", 1, 100); },
               {"--k", "'ten' is not an integer"});
  expect_error([&] { parse_args(s, {"--input", "a", "--k", "0"}).get_int("k", 1, 100); },
               {"--k", "0 is out of range 1..100"});
  expect_error([&] { parse_args(s, {"--input", "a", "--k", "5x"}).get_int("k", 1, 100); }, {"'5x'"});
  EXPECT_EQ(parse_args(s, {"--input", "a", "--k", "1,10,100"}).get_int_list("k", 1, 100),
            (std::vector<int64_t>{1, 10, 100}));
  expect_error([&] { parse_args(s, {"--input", "a", "--k", "1,,3"}).get_int_list("k", 1, 100); }, {"''"});
  expect_error([&] { parse_args(s, {"--input", "a", "--k", "1,"}).get_int_list("k", 1, 100); }, {"comma-separated"});
}

TEST(ArgParser, HelpTextListsEveryFlagWithItsDefault) {
  const std::string h = format_help(demo_spec());
  EXPECT_NE(h.find("usage: tqsearch demo --input FILE [--k K] [--verbose]"), std::string::npos) << h;
  EXPECT_NE(h.find("--k K"), std::string::npos);
  EXPECT_NE(h.find("(default: 10)"), std::string::npos);
  EXPECT_NE(h.find("-h, --help"), std::string::npos);
}

}  // namespace
}  // namespace tqsearch::cli
