// Schema and config validation: every error names the field, what was
// expected and what was got.
#include <gtest/gtest.h>

#include "common/error.h"
#include "quantizers/quantizer.h"

namespace qtune {
namespace {

/// The message of the qtune::Error `f` throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(stmt, ...)                                                       \
  do {                                                                                    \
    const std::string msg = error_of([&] { stmt; });                                      \
    ASSERT_FALSE(msg.empty()) << #stmt " did not throw";                                  \
    for (const char* part : {__VA_ARGS__})                                                \
      EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg; \
  } while (0)

const ParamSchema& rtn() { return quantizer_by_name("rtn").schema(); }

TEST(ParamSchema, FillsDefaultsInSchemaOrder) {
  const Json p = rtn().validate(Json::object(), "x");
  EXPECT_EQ(p, Json::parse(R"({"bits":4,"group_size":32,"scheme":"sym","use_full_range":false,
                               "dtype":"int","use_mse_search":false,"group_dim":1,
                               "use_double_quant":false,"double_quant_bits":8,
                               "double_quant_use_sym":false,"double_quant_group_size":256})"));
  // Given values win; key order stays the schema's (canonical for hashing).
  const Json q = rtn().validate(Json{{"scheme", "asym"}, {"bits", 3}}, "x");
  EXPECT_EQ(q["bits"], 3);
  EXPECT_EQ(q["scheme"], "asym");
  EXPECT_EQ(q.begin().key(), "bits");
}

TEST(ParamSchema, ErrorsNameTheField) {
  EXPECT_ERROR_HAS(rtn().validate(Json{{"bits", "4"}}, "cfg.yaml: params"), "cfg.yaml: params.bits",
                   "expected an integer", "\"4\"");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"bits", 9}}, "p"), "p.bits", "[1, 8]", "got 9");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"bits", 0}}, "p"), "p.bits", "got 0");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"group_size", 0}}, "p"), "p.group_size",
                   "group size must be -1 or >= 1", "got 0");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"group_size", -2}}, "p"), "group size must be -1 or >= 1");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"scheme", "symmetric"}}, "p"), "p.scheme", "sym, asym",
                   "symmetric");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"use_mse_search", 1}}, "p"), "p.use_mse_search",
                   "true or false");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"dtype", "nf3"}}, "p"), "p.dtype", "nf3");
  EXPECT_ERROR_HAS(rtn().validate(Json{{"bitz", 4}}, "p"), "p.bitz", "unknown parameter", "bits");
  EXPECT_ERROR_HAS(rtn().validate(Json::array(), "p"), "p", "object");
  EXPECT_NO_THROW(rtn().validate(Json{{"group_size", -1}}, "p"));
  EXPECT_NO_THROW(rtn().validate(Json{{"group_size", 1}}, "p"));
}

TEST(ParamSchema, SubsetChecksOnlyGivenKeys) {
  EXPECT_EQ(rtn().validate_subset(Json{{"bits", 8}}, "o"), Json({{"bits", 8}}));
  EXPECT_ERROR_HAS(rtn().validate_subset(Json{{"bits", 8.5}}, "o.params"), "o.params.bits");
}

TEST(QuantConfig, RoundTripsThroughJson) {
  const Json j = Json::parse(R"({
    "algorithm": "rtn", "params": {"bits": 3, "scheme": "asym"},
    "overrides": [{"layer_type": "Conv2d", "params": {"bits": 8}},
                  {"name_regex": "head\\..*", "params": {"group_size": -1}}],
    "fp32_layers": ["conv"], "backend": "eager"})");
  const QuantConfig c = QuantConfig::from_json(j, "t");
  EXPECT_EQ(c.params["bits"], 3);
  EXPECT_EQ(c.params["group_size"], 32);  // defaults filled
  ASSERT_EQ(c.overrides.size(), 2u);
  EXPECT_EQ(c.overrides[0].layer_type, "Conv2d");
  EXPECT_EQ(c.overrides[1].name_regex, "head\\..*");
  EXPECT_EQ(c.overrides[1].params, Json({{"group_size", -1}}));
  const QuantConfig back = QuantConfig::from_json(c.to_json(), "t2");
  EXPECT_EQ(back.to_json(), c.to_json());
  // Defaults for everything absent.
  const QuantConfig d = QuantConfig::from_json(Json::object(), "t3");
  EXPECT_EQ(d.algorithm, "rtn");
  EXPECT_EQ(d.backend, "auto");
}

TEST(QuantConfig, ErrorsNameTheField) {
  auto parse = [](const char* text) { return QuantConfig::from_json(Json::parse(text), "c.json"); };
  EXPECT_ERROR_HAS(parse(R"({"algorithm": "gptqq"})"), "c.json.algorithm", "gptqq", "rtn");
  EXPECT_ERROR_HAS(parse(R"({"params": {"bits": 12}})"), "c.json.params.bits", "got 12");
  EXPECT_ERROR_HAS(parse(R"({"overrides": [{"layer_type": "LSTM", "params": {}}]})"),
                   "c.json.overrides[0].layer_type", "LSTM");
  EXPECT_ERROR_HAS(parse(R"({"overrides": [{"name_regex": "fc(", "params": {}}]})"),
                   "c.json.overrides[0].name_regex", "fc(");
  EXPECT_ERROR_HAS(parse(R"({"overrides": [{"params": {"bits": 2}}]})"), "c.json.overrides[0]",
                   "name_regex or layer_type");
  EXPECT_ERROR_HAS(parse(R"({"overrides": [{"layer_type": "Linear", "params": {"bitz": 2}}]})"),
                   "c.json.overrides[0].params.bitz", "unknown");
  EXPECT_ERROR_HAS(parse(R"({"overrides": [{"layer_typ": "Linear"}]})"),
                   "c.json.overrides[0].layer_typ", "unknown key");
  EXPECT_ERROR_HAS(parse(R"({"fp32_layers": "conv"})"), "c.json.fp32_layers", "array");
  EXPECT_ERROR_HAS(parse(R"({"fp32_layers": ["[a"]})"), "c.json.fp32_layers[0]", "[a");
  EXPECT_ERROR_HAS(parse(R"({"backend": "cuda"})"), "c.json.backend", "cuda", "eager");
  EXPECT_ERROR_HAS(parse(R"({"algo": "rtn"})"), "c.json.algo", "unknown key");
  EXPECT_ERROR_HAS(parse(R"([1, 2])"), "c.json", "object");
}

TEST(Registry, KnowsRtn) {
  const std::vector<std::string> names = quantizer_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "rtn"), names.end());
  EXPECT_EQ(quantizer_by_name("rtn").name(), "rtn");
  EXPECT_FALSE(quantizer_by_name("rtn").needs_calibration());
  EXPECT_ERROR_HAS(quantizer_by_name("nope"), "'nope'", "rtn");
}

}  // namespace
}  // namespace qtune
