// A layer's QuantSpec in qconfig.json: the sym grid is recorded when it is not
// RTN's, and files written before it existed still load (as RTN's grid).
#include "storage/quant_spec_json.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/support/expect_error.h"

namespace qtune {
namespace {

using storage_detail::spec_from_json;
using storage_detail::spec_to_json;

/// A qconfig.json layer entry as qtune wrote it before GPTQ had its own grid.
Json old_sym_entry() {
  return Json::parse(R"({"bits": 4, "scheme": "sym", "granularity": "per_group",
                         "group_size": 32, "full_range": false, "clip_ratio": 1.0,
                         "dtype": "int", "group_dim": 1})");
}

TEST(QuantSpecJson, FilesWithoutASymGridLoadAsRtns) {
  const QuantSpec s = spec_from_json(old_sym_entry(), "qconfig.json: layers.fc1");
  EXPECT_EQ(s.sym_grid, SymGrid::kRtn);
  EXPECT_EQ(s.bits, 4);
  EXPECT_EQ(s.scheme, Scheme::kSym);
  // RTN's grid is not written, so a plain layer's entry is as it always was.
  EXPECT_EQ(spec_to_json(s), old_sym_entry());
}

TEST(QuantSpecJson, GptqGridRoundTrips) {
  QuantSpec s;
  s.bits = 3;
  s.sym_grid = SymGrid::kGptq;
  const Json j = spec_to_json(s);
  EXPECT_EQ(j.at("sym_grid"), "gptq");
  EXPECT_EQ(spec_from_json(j, "x").sym_grid, SymGrid::kGptq);
}

TEST(QuantSpecJson, BadSymGridsAreOneLineErrors) {
  Json j = old_sym_entry();
  j["sym_grid"] = "full";
  testing::expect_error([&] { spec_from_json(j, "qconfig.json: layers.fc1"); },
                        "qconfig.json: layers.fc1.sym_grid: unknown sym grid 'full'");
  j["sym_grid"] = 1;
  testing::expect_error([&] { spec_from_json(j, "qconfig.json: layers.fc1"); },
                        "qconfig.json: layers.fc1.sym_grid: expected a string");
  j = old_sym_entry();
  j["scheme"] = "asym";
  j["sym_grid"] = "gptq";
  testing::expect_error([&] { spec_from_json(j, "qconfig.json: layers.fc1"); },
                        "the gptq sym grid needs the sym scheme");
}

}  // namespace
}  // namespace qtune
