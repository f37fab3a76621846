// RTN's full option set (INC names): dtype nf4/fp4, group_dim, double quant
// stored for real (the saved model shrinks and loads back bit-identically).
#include <gtest/gtest.h>

#include "common/error.h"
#include "models/builtin.h"
#include "quant/quantize.h"
#include "quantizers/quantizer.h"
#include "storage/artifact.h"
#include "support/random_fmnist_cnn.h"
#include "tests/support/temp_dir.h"
#include "tiny_model.h"

namespace qtune {
namespace {

QuantConfig rtn(Json params) {
  QuantConfig c;
  c.params = std::move(params);
  return c;
}

ModelPtr random_cnn(uint64_t seed) { return testing::random_fmnist_cnn(seed); }

double weight_mse(const Model& m) {
  double e = 0;
  for (const LayerSlot* s : m.layers()) {
    const QuantizedWeight* q = s->kernel()->quantized_weight();
    EXPECT_NE(q, nullptr) << s->name();
    if (q) e += (q->dequantize() - s->weight()).pow(2).sum().item<double>();
  }
  return e;
}

TEST(RtnOptions, TableDtypesComputeWithTheirTables) {
  for (const char* dtype : {"nf4", "fp4"}) {
    testing::TinyModel m;
    quantize(m, rtn(Json{{"dtype", dtype}, {"group_size", 8}, {"bits", 2}}));
    for (LayerSlot* s : m.layers()) {
      const QuantizedWeight* q = s->kernel()->quantized_weight();
      ASSERT_NE(q, nullptr);
      EXPECT_EQ(to_string(q->spec.dtype), dtype);
      EXPECT_EQ(q->spec.bits, 4);  // nf4/fp4 are 4-bit whatever `bits` says (as INC)
      QuantSpec spec;
      spec.dtype = dtype_from_string(dtype);
      spec.group_size = 8;
      EXPECT_TRUE(at::equal(q->dequantize(), fake_quantize(s->weight(), spec))) << s->name();
    }
  }
}

TEST(RtnOptions, GroupDimZeroGroupsOutputChannels) {
  testing::TinyModel m;
  quantize(m, rtn(Json{{"group_dim", 0}, {"group_size", 4}}));
  const LayerSlot& fc1 = m.layer("fc1");  // [16, 32]: 32 columns of 16 -> 4 groups each
  const QuantizedWeight* q = fc1.kernel()->quantized_weight();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->scale.sizes(), at::IntArrayRef({32, 4}));
  QuantSpec s;
  s.group_size = 4;
  EXPECT_TRUE(at::equal(q->dequantize(), fake_quantize(fc1.weight().t(), s).t()));
  EXPECT_THROW(quantize(m, rtn(Json{{"group_dim", 2}})), Error);
}

TEST(RtnOptions, DoubleQuantShrinksTheSavedModelAndRoundTrips) {
  ModelPtr plain = random_cnn(5);
  ModelPtr dq = plain->clone();
  quantize(*plain, rtn(Json{{"group_size", 32}}));
  const QuantConfig c = rtn(Json{{"group_size", 32},
                                 {"use_double_quant", true},
                                 {"double_quant_bits", 6},
                                 {"double_quant_group_size", 256}});
  const auto reports = quantize(*dq, c);
  const int64_t plain_bytes = model_storage_bytes(*plain), dq_bytes = model_storage_bytes(*dq);
  // fc1 alone has 128 * 49 scales: 4 bytes each -> 6 bits (packed 5 per word) + per-256 params.
  EXPECT_LT(dq_bytes, plain_bytes - 128 * 49 * 3);
  // Error vs plain RTN bounded: 6-bit scales add at most a few percent of weight MSE.
  const double e_plain = weight_mse(*plain), e_dq = weight_mse(*dq);
  EXPECT_GT(e_plain, 0);
  EXPECT_LT(e_dq, e_plain * 1.10) << e_dq << " vs " << e_plain;

  testing::TempDir dir;
  save_model(*dq, dir / "q", c, reports);
  SavedModelInfo info;
  ModelPtr loaded = load_saved_model(dir / "q", &info);
  const at::Tensor x = at::rand({2, 1, 28, 28});
  EXPECT_TRUE(at::equal(loaded->forward(x), dq->forward(x)));
  EXPECT_EQ(model_storage_bytes(*loaded), dq_bytes);
  const Json& fc1 = info.qconfig["layers"]["fc1"];
  EXPECT_EQ(fc1["scale_quant"]["bits"], 6);
  EXPECT_EQ(fc1["scale_quant"]["scheme"], "asym");
  // The saved file really is smaller (scales as 6-bit codes, not float32).
  testing::TempDir dir2;
  save_model(*plain, dir2 / "q", rtn(Json{{"group_size", 32}}), {});
  EXPECT_LT(std::filesystem::file_size(dir / "q" / "model.safetensors"),
            std::filesystem::file_size(dir2 / "q" / "model.safetensors"));
}

TEST(RtnOptions, Nf4DoubleQuantGroupDimSaveLoad) {
  ModelPtr m = random_cnn(6);
  const QuantConfig c = rtn(Json{{"dtype", "nf4"},
                                 {"use_double_quant", true},
                                 {"double_quant_use_sym", true},
                                 {"group_dim", 0}});
  const auto reports = quantize(*m, c);
  testing::TempDir dir;
  save_model(*m, dir / "q", c, reports);
  ModelPtr loaded = load_saved_model(dir / "q");
  const at::Tensor x = at::rand({2, 1, 28, 28});
  EXPECT_TRUE(at::equal(loaded->forward(x), m->forward(x)));
}

TEST(RtnOptions, SchemaDefaultsAreIncs) {
  const Json d = quantizer_by_name("rtn").schema().validate(Json::object(), "test");
  EXPECT_EQ(d["dtype"], "int");
  EXPECT_EQ(d["bits"], 4);
  EXPECT_EQ(d["group_size"], 32);
  EXPECT_EQ(d["group_dim"], 1);
  EXPECT_EQ(d["use_double_quant"], false);
  EXPECT_EQ(d["double_quant_bits"], 8);
  EXPECT_EQ(d["double_quant_use_sym"], false);
  EXPECT_EQ(d["double_quant_group_size"], 256);
  EXPECT_THROW(quantizer_by_name("rtn").schema().validate(Json{{"dtype", "fp8"}}, "t"), Error);
  EXPECT_THROW(quantizer_by_name("rtn").schema().validate(Json{{"double_quant_bits", 1}}, "t"),
               Error);
}

}  // namespace
}  // namespace qtune
