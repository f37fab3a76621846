// Bad pre-quantized checkpoints: truncated or inconsistent GPTQ/AWQ folders
// (shapes, bits, a missing g_idx, a wrong quantization_config) give one-line
// errors naming the file and the tensor or field, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "common/error.h"
#include "models/builtin.h"
#include "models/llama/builtin_lm.h"
#include "models/safetensors.h"
#include "quantizers/quantizer.h"
#include "storage/formats/export.h"
#include "storage/formats/hf_quantized_import.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

constexpr const char* kSpec = "builtin:tiny-lm-micro";
constexpr const char* kQ = "model.layers.0.self_attn.q_proj";

/// A valid checkpoint of the micro LM (RTN 4-bit g32, act-order GPTQ for g_idx).
void write_checkpoint(const fs::path& out, const std::string& format) {
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  ModelPtr m = load_model(kSpec, mo);
  QuantConfig c;
  c.algorithm = format == "hf-gptq" ? "gptq" : "rtn";
  c.params = {{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}};
  if (format == "hf-gptq") c.params["act_order"] = true;
  CalibrationData calib;
  calib.batches = load_task_data(kSpec, 4, 1, 3, QTUNE_TEST_CACHE_DIR).calibration.input_batches(4);
  quantize(*m, c, calib);
  ExportInput in;
  in.model = m.get();
  in.files_dir = ensure_builtin_lm(kSpec, QTUNE_TEST_CACHE_DIR, false);
  find_export_format(format).run(in, out);
}

Json read_json(const fs::path& p) {
  std::ifstream in(p);
  return Json::parse(in);
}

void write_json(const fs::path& p, const Json& j) {
  std::ofstream(p, std::ios::trunc) << j.dump(2);
}

void edit_config(const fs::path& dir, const std::function<void(Json&)>& f) {
  Json j = read_json(dir / "config.json");
  f(j["quantization_config"]);
  write_json(dir / "config.json", j);
}

void edit_tensors(const fs::path& dir,
                  const std::function<void(std::map<std::string, at::Tensor>&)>& f) {
  const fs::path file = dir / "model.safetensors";
  std::map<std::string, at::Tensor> t = read_safetensors(file).tensors;
  f(t);
  write_safetensors(file, t);
}

/// The import fails with one line that contains every fragment.
void expect_one_line_error(const fs::path& dir, const std::vector<std::string>& fragments) {
  try {
    load_hf_quantized_model(dir, "hf:" + dir.string());
    ADD_FAILURE() << "no error; expected " << fragments.front();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const std::string& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nmissing: " << f;
  }
}

class HfImportErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    write_checkpoint(*dir_ / "gptq", "hf-gptq");
    write_checkpoint(*dir_ / "awq", "hf-awq");
  }
  static void TearDownTestSuite() { delete dir_; }

  /// A fresh copy of the "gptq" or "awq" checkpoint to break.
  fs::path copy(const std::string& which) {
    const fs::path to = tmp_ / which;
    fs::copy(dir_->path() / which, to, fs::copy_options::recursive);
    return to;
  }

  static TempDir* dir_;
  TempDir tmp_;
};
TempDir* HfImportErrors::dir_ = nullptr;

TEST_F(HfImportErrors, ValidCheckpointsLoad) {
  for (const char* which : {"gptq", "awq"}) {
    const fs::path d = dir_->path() / which;
    const ModelPtr m = load_hf_quantized_model(d, std::string("hf:") + d.string());
    ASSERT_NE(m->layer(kQ).kernel()->quantized_weight(), nullptr) << which;
  }
}

TEST_F(HfImportErrors, WrongBitsInConfig) {
  const fs::path d = copy("gptq");
  edit_config(d, [](Json& q) { q["bits"] = 3; });
  expect_one_line_error(d, {(d / "model.safetensors").string(), std::string(kQ) + ".qweight'",
                            "expected int32 [6, 64]", "got int32 [8, 64]"});
}

TEST_F(HfImportErrors, MisshapenQzeros) {
  const fs::path d = copy("gptq");
  edit_tensors(d, [](auto& t) {
    t[std::string(kQ) + ".qzeros"] = t[std::string(kQ) + ".qzeros"].narrow(0, 0, 1).clone();
  });
  expect_one_line_error(
      d, {"model.safetensors", std::string(kQ) + ".qzeros'", "expected int32 [2, 8]"});
}

TEST_F(HfImportErrors, MissingGIdxWithDescAct) {
  const fs::path d = copy("gptq");
  edit_tensors(d, [](auto& t) { t.erase(std::string(kQ) + ".g_idx"); });
  expect_one_line_error(
      d, {"model.safetensors", std::string(kQ) + ".g_idx' is missing", "desc_act true"});
}

TEST_F(HfImportErrors, GIdxOutOfOrderWithoutDescAct) {
  const fs::path d = copy("gptq");
  edit_config(d, [](Json& q) { q["desc_act"] = false; });
  expect_one_line_error(d, {"g_idx'", "desc_act is false"});
}

TEST_F(HfImportErrors, MissingQweightOrStrayTensor) {
  const fs::path d = copy("gptq");
  edit_tensors(d, [](auto& t) { t.erase(std::string(kQ) + ".qweight"); });
  expect_one_line_error(d, {"model.safetensors", std::string(kQ) + ".qweight' is missing",
                            "quantization_config quantizes layer"});
  const fs::path e = copy("awq");
  edit_tensors(e, [](auto& t) { t["lm_head.qzeros"] = at::zeros({2, 64}, at::kInt); });
  expect_one_line_error(e,
                        {"model.safetensors", "'lm_head.qzeros'", "belongs to no quantized layer"});
}

TEST_F(HfImportErrors, WrongQuantizationConfig) {
  const fs::path d = copy("gptq");
  const std::string cfg = (d / "config.json").string();
  edit_config(d, [](Json& q) { q["quant_method"] = "hqq"; });
  expect_one_line_error(d, {cfg, "quant_method 'hqq' is not one qtune imports"});
  edit_config(d, [](Json& q) {
    q["quant_method"] = "gptq";
    q["checkpoint_format"] = "marlin";
  });
  expect_one_line_error(d, {cfg, "checkpoint_format: expected \"gptq\" or \"gptq_v2\""});
  edit_config(d, [](Json& q) {
    q["checkpoint_format"] = "gptq";
    q["bits"] = 5;
  });
  expect_one_line_error(d, {cfg, "quantization_config.bits: expected 2, 3, 4 or 8, got 5"});
  edit_config(d, [](Json& q) {
    q["bits"] = 4;
    q.erase("group_size");
  });
  expect_one_line_error(d, {cfg, "missing field 'group_size'"});
  edit_config(d, [](Json& q) {
    q["group_size"] = 32;
    q["dynamic"] = {{"-:model\\.layers\\.0\\.self_attn\\.q_proj", Json::object()}};
  });
  expect_one_line_error(d, {std::string(kQ) + ".qweight'", "leaves layer"});
}

TEST_F(HfImportErrors, AwqConfigAndShapes) {
  const fs::path d = copy("awq");
  const std::string cfg = (d / "config.json").string();
  edit_config(d, [](Json& q) { q["version"] = "gemv"; });
  expect_one_line_error(d, {cfg, "version: expected \"gemm\""});
  edit_config(d, [](Json& q) {
    q["version"] = "gemm";
    q["bits"] = 3;
  });
  expect_one_line_error(d, {cfg, "bits: expected 4"});
  edit_config(d, [](Json& q) {
    q["bits"] = 4;
    q["group_size"] = 64;
  });
  expect_one_line_error(
      d, {"model.safetensors", std::string(kQ) + ".qzeros'", "expected int32 [1, 8]"});
  edit_config(d, [](Json& q) {
    q["group_size"] = 32;
    q["zero_point"] = false;
  });
  expect_one_line_error(d, {cfg, "zero_point: expected true"});
}

TEST_F(HfImportErrors, TruncatedSafetensors) {
  const fs::path d = copy("gptq");
  const fs::path f = d / "model.safetensors";
  fs::resize_file(f, fs::file_size(f) / 2);
  expect_one_line_error(d, {f.string()});
}

}  // namespace
}  // namespace qtune
