// RTN on a hand-built model: per-layer params (precedence, fp32 layers), the
// kernel equal to a fake-quantized twin, and the error properties RTN must have.
#include <gtest/gtest.h>

#include "common/error.h"
#include "quant/clip_search.h"
#include "quant/quantize.h"
#include "quantizers/quantizer.h"
#include "tiny_model.h"

namespace qtune {
namespace {

using testing::TinyModel;

QuantConfig rtn_config(Json params) {
  QuantConfig c;
  c.params = std::move(params);
  return c;
}

/// Mean squared error of the layer's quantized weight against its fp32 weight.
double weight_mse(const LayerSlot& slot) {
  const QuantizedWeight* q = slot.kernel()->quantized_weight();
  EXPECT_NE(q, nullptr) << slot.name();
  if (!q) return -1;
  return (q->dequantize() - slot.weight()).pow(2).mean().item<double>();
}

double total_weight_mse(Model& m) {
  double sum = 0;
  for (LayerSlot* s : m.layers()) sum += weight_mse(*s);
  return sum;
}

TEST(LayerParams, PrecedenceGlobalThenTypeThenNameLaterWins) {
  TinyModel m;
  QuantConfig c = QuantConfig::from_json(Json::parse(R"({
      "params": {"bits": 4},
      "overrides": [
        {"name_regex": "fc.*", "params": {"bits": 2}},
        {"layer_type": "Linear", "params": {"bits": 8, "scheme": "asym"}},
        {"layer_type": "Linear", "params": {"bits": 6}},
        {"name_regex": "head\\..*", "params": {"group_size": -1}},
        {"name_regex": "head\\..*", "layer_type": "Conv2d", "params": {"bits": 3}}]})"),
                                         "test");
  // conv: no Linear override, no name match -> global.
  EXPECT_EQ(layer_params(c, m.layer("conv"))->at("bits"), 4);
  EXPECT_EQ(layer_params(c, m.layer("conv"))->at("scheme"), "sym");
  // fc1: type tier 8 then 6 (later wins), then name tier "fc.*" -> 2, even though
  // the name override is listed first; scheme from the type tier survives.
  const Json fc1 = *layer_params(c, m.layer("fc1"));
  EXPECT_EQ(fc1["bits"], 2);
  EXPECT_EQ(fc1["scheme"], "asym");
  // head.fc2: "fc.*" must match the whole name (std::regex_match), so it does not;
  // type tier gives 6; "head\\..*" gives group -1; the Conv2d-only name override does not apply.
  const Json fc2 = *layer_params(c, m.layer("head.fc2"));
  EXPECT_EQ(fc2["bits"], 6);
  EXPECT_EQ(fc2["group_size"], -1);
  EXPECT_EQ(fc2["use_mse_search"], false);  // defaults filled
}

TEST(LayerParams, Fp32LayersAndFp32Dtype) {
  TinyModel m;
  QuantConfig c = rtn_config(Json::object());
  c.fp32_layers = {"conv", "nomatch"};
  c.overrides.push_back(LayerOverride{"head\\..*", "", Json{{"dtype", "fp32"}}});
  EXPECT_FALSE(layer_params(c, m.layer("conv")).has_value());
  EXPECT_FALSE(layer_params(c, m.layer("head.fc2")).has_value());
  EXPECT_TRUE(layer_params(c, m.layer("fc1")).has_value());
}

TEST(Rtn, EachLayerComputesWithTheFakeQuantizedWeight) {
  TinyModel m;
  const at::Tensor x = TinyModel::input(5);
  // Eager computes exactly with the dequantized weight (native rounds scales to
  // fp16: native_layer_test.cpp bounds that), so the equality below is eager's.
  QuantConfig config = rtn_config(Json{{"group_size", 8}});
  config.backend = "eager";
  const std::vector<LayerReport> reports = quantize(m, config);
  ASSERT_EQ(reports.size(), 3u);
  QuantSpec spec;  // INC defaults: int4 sym, group 8 here
  spec.group_size = 8;
  for (const LayerReport& r : reports) {
    const LayerSlot& s = m.layer(r.name);
    EXPECT_TRUE(r.quantized);
    EXPECT_TRUE(s.quantized());
    EXPECT_EQ(r.backend, "eager");
    EXPECT_FALSE(r.backend_reason.empty());
    EXPECT_EQ(r.params["bits"], 4);
    EXPECT_EQ(r.kind, to_string(s.kind()));
    const at::Tensor wq = fake_quantize(s.weight(), spec);
    const at::Tensor b = s.bias() ? *s.bias() : at::Tensor();
    at::Tensor in = s.kind() == LayerKind::kConv2d ? x : at::randn({3, s.weight().size(1)});
    const at::Tensor expected =
        s.kind() == LayerKind::kLinear
            ? at::linear(in, wq, b)
            : at::conv2d(in, wq, b, s.geometry().stride, s.geometry().padding,
                         s.geometry().dilation, s.geometry().groups);
    EXPECT_TRUE(at::equal(s(in), expected)) << r.name;
    EXPECT_FALSE(at::equal(wq, s.weight())) << r.name << ": quantization changed nothing";
  }
}

TEST(Rtn, ErrorDecreasesWithMoreBits) {
  double prev = INFINITY;
  for (int bits : {2, 3, 4, 6, 8}) {
    TinyModel m;
    quantize(m, rtn_config(Json{{"bits", bits}}));
    const double e = total_weight_mse(m);
    EXPECT_LT(e, prev) << "bits=" << bits;
    EXPECT_GT(e, 0.0) << "bits=" << bits;
    prev = e;
  }
}

TEST(Rtn, ErrorDecreasesWithSmallerGroups) {
  double prev = INFINITY;
  for (int group : {-1, 16, 8, 4}) {
    TinyModel m;
    quantize(m, rtn_config(Json{{"bits", 3}, {"group_size", group}}));
    const double e = total_weight_mse(m);
    EXPECT_LT(e, prev) << "group_size=" << group;
    prev = e;
  }
}

TEST(Rtn, Fp32LayersKeepTheirExactOutput) {
  TinyModel m;
  TinyModel ref;
  const at::Tensor x = TinyModel::input(5);
  QuantConfig c = rtn_config(Json::object());
  c.fp32_layers = {"con."};
  const std::vector<LayerReport> reports = quantize(m, c);
  EXPECT_FALSE(reports[0].quantized);
  EXPECT_EQ(reports[0].backend, "fp32");
  EXPECT_FALSE(m.layer("conv").quantized());
  EXPECT_EQ(m.layer("conv").kernel()->backend(), "fp32");
  EXPECT_TRUE(at::equal(m.layer("conv")(x), ref.layer("conv")(x)));
  EXPECT_TRUE(m.layer("fc1").quantized());
}

TEST(Rtn, OverridesAreApplied) {
  TinyModel m;
  QuantConfig c = rtn_config(Json{{"bits", 2}});
  c.overrides.push_back(LayerOverride{"fc1", "", Json{{"bits", 8}}});
  const std::vector<LayerReport> reports = quantize(m, c);
  EXPECT_EQ(reports[1].name, "fc1");
  EXPECT_EQ(reports[1].params["bits"], 8);
  EXPECT_EQ(m.layer("fc1").kernel()->quantized_weight()->spec.bits, 8);
  EXPECT_EQ(m.layer("head.fc2").kernel()->quantized_weight()->spec.bits, 2);
  // 8-bit error is far below 2-bit error on the same distribution.
  EXPECT_LT(weight_mse(m.layer("fc1")) * 100, weight_mse(m.layer("head.fc2")));
}

TEST(Rtn, AsymDiffersFromSym) {
  TinyModel sym, asym;
  quantize(sym, rtn_config(Json{{"scheme", "sym"}}));
  quantize(asym, rtn_config(Json{{"scheme", "asym"}}));
  for (const char* name : {"conv", "fc1", "head.fc2"}) {
    const QuantizedWeight* a = asym.layer(name).kernel()->quantized_weight();
    const QuantizedWeight* s = sym.layer(name).kernel()->quantized_weight();
    EXPECT_EQ(a->spec.scheme, Scheme::kAsym);
    EXPECT_TRUE(a->zero.defined());
    EXPECT_EQ(asym.layer(name).kernel()->tensors().count("qzeros"), 1u);
    EXPECT_FALSE(s->zero.defined());
    EXPECT_FALSE(at::equal(a->dequantize(), s->dequantize())) << name;
  }
}

TEST(Rtn, MseSearchNeverWorse) {
  for (bool heavy : {false, true}) {
    TinyModel plain(1, heavy), searched(1, heavy);
    quantize(plain, rtn_config(Json{{"bits", 3}}));
    quantize(searched, rtn_config(Json{{"bits", 3}, {"use_mse_search", true}}));
    bool some_better = false;
    for (const char* name : {"conv", "fc1", "head.fc2"}) {
      const double with = weight_mse(searched.layer(name)), without = weight_mse(plain.layer(name));
      EXPECT_LE(with, without) << name << " heavy=" << heavy;
      some_better = some_better || with < without;
    }
    // Cubed weights have outliers: clipping them must pay somewhere.
    if (heavy) EXPECT_TRUE(some_better);
  }
}

TEST(Rtn, ClipSearchMatchesItsDefinition) {
  // The chosen ratio's error is the smallest over INC's grid.
  at::manual_seed(9);
  const at::Tensor w = at::randn({8, 64}).pow(3);
  QuantSpec s;
  s.bits = 3;
  const double best = search_clip_ratio(w, s);
  s.clip_ratio = best;
  const double best_loss = (w - fake_quantize(w, s)).pow(2).mean().item<double>();
  for (int i = 0; i < 40; ++i) {
    s.clip_ratio = 1.0 - i / 200.0;
    EXPECT_LE(best_loss, (w - fake_quantize(w, s)).pow(2).mean().item<double>()) << s.clip_ratio;
  }
  EXPECT_LT(best, 1.0);
}

TEST(Rtn, StartsFromTheOriginalWeightsEveryTime) {
  TinyModel once, twice;
  quantize(twice, rtn_config(Json{{"bits", 2}}));
  quantize(twice, rtn_config(Json{{"bits", 8}}));
  quantize(once, rtn_config(Json{{"bits", 8}}));
  for (const char* name : {"conv", "fc1", "head.fc2"})
    EXPECT_TRUE(at::equal(once.layer(name).kernel()->quantized_weight()->dequantize(),
                          twice.layer(name).kernel()->quantized_weight()->dequantize()));
  // And a layer set to fp32 by the second config gets its fp32 kernel back.
  QuantConfig c = rtn_config(Json::object());
  c.fp32_layers = {".*"};
  quantize(twice, c);
  for (LayerSlot* s : twice.layers()) EXPECT_FALSE(s->quantized()) << s->name();
}

TEST(Rtn, RequestedBackendIsRecorded) {
  TinyModel m;
  QuantConfig c = rtn_config(Json::object());
  c.backend = "eager";
  for (const LayerReport& r : quantize(m, c)) EXPECT_EQ(r.backend_reason, "requested");
}

TEST(Rtn, BadInputsAreErrors) {
  TinyModel m;
  QuantConfig c = rtn_config(Json{{"group_size", 0}});
  EXPECT_THROW(quantize(m, c), Error);
  c = rtn_config(Json::object());
  c.algorithm = "nope";
  EXPECT_THROW(quantize(m, c), Error);
  // A NaN weight is named, not silently quantized. The slot's weight handle
  // shares storage, so writing through a copy of it poisons the layer.
  TinyModel poisoned;
  at::Tensor w = poisoned.layer("fc1").weight();
  w.index_put_({1, 1}, NAN);
  try {
    quantize(poisoned, rtn_config(Json::object()));
    FAIL() << "NaN weight accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'fc1'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qtune
