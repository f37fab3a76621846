// The YAML layer of the tuning config (tuner/yaml_document.h): what yaml-cpp
// accepts silently (a key given twice, alias expansion, deep nesting) is an
// error naming the file, line and column; scalars are typed as documented.
#include "tuner/yaml_document.h"

#include <gtest/gtest.h>

#include <string>

#include "common/error.h"

namespace qtune {
namespace {

std::string error_of(const std::string& text) {
  try {
    load_yaml_document(text, "t.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(YamlDocument, DuplicateTopLevelKeyNamesBothLines) {
  EXPECT_EQ(error_of("model: a\nseed: 1\nmodel: b\n"),
            "t.yaml:3:1: model: given twice (first at line 1)");
}

TEST(YamlDocument, DuplicateNestedKeyInAFlowMapping) {
  EXPECT_EQ(error_of("search_space:\n  - params: {bits: 4, bits: 8}\n"),
            "t.yaml:2:23: bits: given twice (first at line 2)");
}

TEST(YamlDocument, SameKeyInTwoMappingsIsFine) {
  EXPECT_EQ(error_of("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 1}]\n"), "no error");
}

TEST(YamlDocument, MalformedYamlNamesLineAndColumn) {
  EXPECT_EQ(error_of("a: [1, 2\n").rfind("t.yaml:2:1: malformed YAML: ", 0), 0u)
      << error_of("a: [1, 2\n");
}

// Ten aliases of ten aliases ... of ten scalars: 10^5 nodes from 60 lines' worth of text.
TEST(YamlDocument, AliasExpansionIsBounded) {
  const std::string bomb =
      "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
  const std::string e = error_of(bomb);
  EXPECT_NE(e.find("more than 100000 YAML nodes"), std::string::npos) << e;
}

TEST(YamlDocument, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < 65; ++i) deep += "[";
  deep += "1";
  for (int i = 0; i < 65; ++i) deep += "]";
  const std::string e = error_of(deep);
  EXPECT_NE(e.find("nested deeper than 64 levels"), std::string::npos) << e;
  std::string ok = "[[[[1]]]]";
  EXPECT_EQ(error_of(ok), "no error");
}

TEST(YamlDocument, ScalarTypes) {
  const YAML::Node n = load_yaml_document(
      "[8, -3, \"8\", 0.5, 1e3, true, False, ~, null, abc, 99999999999999999999, 1e999]", "t");
  EXPECT_EQ(yaml_scalar(n[0]), Json(8));
  EXPECT_EQ(yaml_scalar(n[1]), Json(-3));
  EXPECT_EQ(yaml_scalar(n[2]), Json("8"));
  EXPECT_EQ(yaml_scalar(n[3]), Json(0.5));
  EXPECT_EQ(yaml_scalar(n[4]), Json(1000.0));
  EXPECT_EQ(yaml_scalar(n[5]), Json(true));
  EXPECT_EQ(yaml_scalar(n[6]), Json(false));
  EXPECT_TRUE(yaml_scalar(n[7]).is_null());
  EXPECT_TRUE(yaml_scalar(n[8]).is_null());
  EXPECT_EQ(yaml_scalar(n[9]), Json("abc"));
  // Past int64 and past double: kept as text, so the field reports a string where a number was
  // expected.
  EXPECT_EQ(yaml_scalar(n[10]), Json("99999999999999999999"));
  EXPECT_EQ(yaml_scalar(n[11]), Json("1e999"));
}

}  // namespace
}  // namespace qtune
