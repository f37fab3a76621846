// HQQ: the optimised zero points lower the lp error of the weights below RTN's
// (asym, same group), zero/scale quantization is stored for real, and the
// quantizer's layers save and load bit-identically.
#include <gtest/gtest.h>

#include "common/error.h"
#include "models/builtin.h"
#include "quantizers/hqq_solver.h"
#include "quantizers/quantizer.h"
#include "storage/artifact.h"
#include "support/random_fmnist_cnn.h"
#include "tests/support/temp_dir.h"
#include "tiny_model.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 77;

/// Gaussian weights with a few large outliers per row (what lp shrinkage is for).
at::Tensor weight_with_outliers(int64_t rows, int64_t cols, uint64_t seed) {
  at::manual_seed(seed);
  at::Tensor w = at::randn({rows, cols}) * 0.02;
  const at::Tensor mask = at::rand({rows, cols}) < 0.01;
  return at::where(mask, at::randn({rows, cols}) * 0.5, w);
}

QuantSpec hqq_spec(int bits, int64_t group, bool quant_zero, bool quant_scale) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = Scheme::kAsym;
  s.float_zero = true;
  s.group_size = group;
  if (quant_zero) s.zero_quant = ParamQuant{8, Scheme::kAsym, -1};
  if (quant_scale) s.scale_quant = ParamQuant{8, Scheme::kAsym, 128};
  return s;
}

TEST(HqqSolver, LpErrorBelowRtnAsymSameGroup) {
  const at::Tensor w = weight_with_outliers(64, 256, kSeed);
  for (int bits : {2, 3, 4}) {
    for (int64_t group : {int64_t{64}, int64_t{100}}) {  // 100: a partial trailing group
      QuantSpec rtn;
      rtn.bits = bits;
      rtn.scheme = Scheme::kAsym;
      rtn.group_size = group;
      const double rtn_err = lp_error(w, fake_quantize(w, rtn), 0.7);
      for (bool qz : {false, true}) {
        const QuantizedWeight q = hqq_quantize(w, hqq_spec(bits, group, qz, false), {});
        const double err = lp_error(w, q.dequantize(), 0.7);
        EXPECT_GT(rtn_err, 0);
        EXPECT_LT(err, rtn_err) << "int" << bits << " g" << group << " quant_zero " << qz;
      }
    }
  }
}

TEST(HqqSolver, ZeroIterationsIsRtnWithFloatZero) {
  const at::Tensor w = weight_with_outliers(8, 64, kSeed + 1);
  HqqOptions opt;
  opt.iters = 0;
  QuantSpec rtn;
  rtn.bits = 4;
  rtn.scheme = Scheme::kAsym;
  rtn.group_size = 64;
  EXPECT_TRUE(at::allclose(hqq_quantize(w, hqq_spec(4, 64, false, false), opt).dequantize(),
                           fake_quantize(w, rtn), 0, 1e-7));
}

TEST(HqqSolver, QuantZeroAndScaleShrinkStorage) {
  const at::Tensor w = weight_with_outliers(128, 256, kSeed + 2);
  const QuantizedWeight plain = hqq_quantize(w, hqq_spec(4, 64, false, false), {});
  const QuantizedWeight qz = hqq_quantize(w, hqq_spec(4, 64, true, false), {});
  const QuantizedWeight both = hqq_quantize(w, hqq_spec(4, 64, true, true), {});
  const int64_t packed = 128 * 256 / 8 * 4, params = 128 * 4;
  EXPECT_EQ(plain.storage_bytes(), packed + 2 * params * 4);
  EXPECT_EQ(qz.storage_bytes(), packed + params * 4 + params + 8);  // 8-bit zeros + 1 scale/zero
  EXPECT_EQ(both.storage_bytes(), packed + params + 4 * 8 + params + 8);
  EXPECT_TRUE(qz.zero.scalar_type() == at::kFloat);
}

TEST(HqqQuantizer, DefaultsAndSaveLoad) {
  const Json d = quantizer_by_name("hqq").schema().validate(Json::object(), "test");
  EXPECT_EQ(d["bits"], 4);
  EXPECT_EQ(d["group_size"], 64);
  EXPECT_EQ(d["quant_zero"], true);
  EXPECT_EQ(d["quant_scale"], false);
  EXPECT_EQ(d["lp_norm"], 0.7);
  EXPECT_EQ(d["beta"], 10.0);
  EXPECT_EQ(d["kappa"], 1.01);
  EXPECT_EQ(d["iters"], 20);
  EXPECT_FALSE(quantizer_by_name("hqq").needs_calibration());

  ModelPtr m = testing::random_fmnist_cnn(kSeed + 3);
  QuantConfig c;
  c.algorithm = "hqq";
  c.params = Json{{"quant_scale", true}};
  const auto reports = quantize(*m, c);
  for (const LayerReport& r : reports) EXPECT_TRUE(r.quantized) << r.name;
  testing::TempDir dir;
  save_model(*m, dir / "q", c, reports);
  ModelPtr loaded = load_saved_model(dir / "q");
  const at::Tensor x = at::rand({3, 1, 28, 28});
  EXPECT_TRUE(at::equal(loaded->forward(x), m->forward(x)));
  EXPECT_EQ(model_storage_bytes(*loaded), model_storage_bytes(*m));
}

}  // namespace
}  // namespace qtune
