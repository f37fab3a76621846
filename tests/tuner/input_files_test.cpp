// The files a run reads on every rank, and the same run pointed at copies of
// them: what the MPI broadcast sends (tuner/input_broadcast.h) and where the
// receiving node reads it. The property that must hold: copy every listed file
// to ROOT/relative, relocate, and the relocated run lists exactly those copies.
#include "tuner/input_files.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_bytes;

std::vector<std::string> relatives(const std::vector<InputFile>& files) {
  std::vector<std::string> out;
  for (const InputFile& f : files) out.push_back(f.relative);
  return out;
}

// Copies each listed file to root/relative, as a receiving node does.
void copy_under(const std::vector<InputFile>& files, const fs::path& root) {
  for (const InputFile& f : files) {
    fs::create_directories((root / f.relative).parent_path());
    fs::copy_file(f.source, root / f.relative);
  }
}

void expect_relocation_finds_the_copies(const RunInputs& inputs, const fs::path& root) {
  const std::vector<InputFile> files = run_input_files(inputs);
  copy_under(files, root);
  const RunInputs moved = relocate_run_inputs(inputs, root);
  const std::vector<InputFile> again = run_input_files(moved);
  EXPECT_EQ(relatives(again), relatives(files));
  for (const InputFile& f : again) {
    EXPECT_EQ(fs::path(f.source).lexically_normal(), (root / f.relative).lexically_normal())
        << f.relative;
  }
}

TEST(InputFiles, BuiltinClassifierSendsItsCacheEntryAndTheUsersIdxFiles) {
  TempDir t;
  fs::create_directories(t / "cache");
  write_bytes(t / "cache" / "fmnist-cnn-tiny.bin", "weights");
  write_bytes(t / "cache" / "fmnist-cnn-tiny.bin.training.json", "{}");
  write_bytes(t / "cache" / "fmnist-cnn.bin", "another model: not sent");
  write_bytes(t / "images.idx", "i");
  write_bytes(t / "labels.idx", "l");
  RunInputs in;
  in.config.model = "builtin:fmnist-cnn-tiny";
  in.config.image_data.eval_images = (t / "images.idx").string();
  in.config.image_data.eval_labels = (t / "labels.idx").string();
  in.cache_dir = t / "cache";
  const std::vector<InputFile> files = run_input_files(in);
  EXPECT_EQ(relatives(files), (std::vector<std::string>{"cache/fmnist-cnn-tiny.bin",
                                                        "cache/fmnist-cnn-tiny.bin.training.json",
                                                        "data/0/images.idx", "data/1/labels.idx"}));
  const RunInputs moved = relocate_run_inputs(in, "/node/copy");
  EXPECT_EQ(moved.config.model, "builtin:fmnist-cnn-tiny");
  EXPECT_EQ(moved.cache_dir, fs::path("/node/copy/cache"));
  EXPECT_EQ(moved.config.image_data.eval_images, "/node/copy/data/0/images.idx");
  EXPECT_EQ(moved.config.image_data.eval_labels, "/node/copy/data/1/labels.idx");
  EXPECT_TRUE(moved.config.image_data.calibration_images.empty());
  expect_relocation_finds_the_copies(in, t / "root");
}

TEST(InputFiles, CheckpointFolderSendsWeightsConfigAndTokenizerOnly) {
  TempDir t;
  fs::create_directories(t / "ckpt");
  for (const char* name :
       {"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "README.md",
        "pytorch_model.bin"})
    write_bytes(t / "ckpt" / name, name);
  write_bytes(t / "cal.jsonl", "{\"text\": \"a\"}\n");
  write_bytes(t / "eval.txt", "b");
  RunInputs in;
  in.config.model = "hf:" + (t / "ckpt").string();
  in.config.lm_data.calibration_file = (t / "cal.jsonl").string();
  in.config.lm_data.calibration_format = "jsonl";
  in.config.lm_data.eval_file = (t / "eval.txt").string();
  in.cache_dir = t / "cache";
  EXPECT_EQ(relatives(run_input_files(in)),
            (std::vector<std::string>{"data/0/cal.jsonl", "data/1/eval.txt", "model/config.json",
                                      "model/model-00001-of-00002.safetensors",
                                      "model/model-00002-of-00002.safetensors",
                                      "model/model.safetensors.index.json", "model/tokenizer.json",
                                      "model/tokenizer_config.json"}));
  const RunInputs moved = relocate_run_inputs(in, "/node/copy");
  EXPECT_EQ(moved.config.model, "hf:/node/copy/model");
  EXPECT_EQ(moved.config.lm_data.calibration_file, "/node/copy/data/0/cal.jsonl");
  EXPECT_EQ(moved.config.lm_data.calibration_format, "jsonl");
  EXPECT_EQ(moved.config.lm_data.eval_file, "/node/copy/data/1/eval.txt");
  expect_relocation_finds_the_copies(in, t / "root");
}

TEST(InputFiles, TorchScriptFileIsSentAsTheModel) {
  TempDir t;
  write_bytes(t / "net.pt", "module");
  write_bytes(t / "images.idx", "pixels");
  write_bytes(t / "labels.idx", "labels");
  RunInputs in;
  in.config.model = "torchscript:" + (t / "net.pt").string();
  in.config.image_data.eval_images = (t / "images.idx").string();
  in.config.image_data.eval_labels = (t / "labels.idx").string();
  in.cache_dir = t / "cache";
  EXPECT_EQ(relatives(run_input_files(in)),
            (std::vector<std::string>{"data/0/images.idx", "data/1/labels.idx", "model/net.pt"}));
  EXPECT_EQ(relocate_run_inputs(in, "/node/copy").config.model,
            "torchscript:/node/copy/model/net.pt");
  expect_relocation_finds_the_copies(in, t / "root");
  in.config.model = "torchscript:" + (t / "gone.pt").string();
  testing::expect_error([&] { run_input_files(in); },
                        (t / "gone.pt").string() + ": no such TorchScript file");
}

TEST(InputFiles, WhatCannotBeSentIsAnErrorNamingIt) {
  TempDir t;
  RunInputs in;
  in.cache_dir = t / "empty-cache";
  in.config.model = "builtin:fmnist-cnn-tiny";
  testing::expect_error([&] { run_input_files(in); },
                        "builtin:fmnist-cnn-tiny: not in the model cache " +
                            (t / "empty-cache").string() +
                            " yet; it is trained before its files are sent");
  in.config.model = "hf:" + (t / "nothing").string();
  EXPECT_THROW(run_input_files(in), Error);
  fs::create_directories(t / "cache");
  write_bytes(t / "cache" / "fmnist-cnn-tiny.bin", "weights");
  in.cache_dir = t / "cache";
  in.config.model = "builtin:fmnist-cnn-tiny";
  in.config.image_data.eval_images = (t / "gone.idx").string();
  testing::expect_error([&] { run_input_files(in); },
                        (t / "gone.idx").string() + ": not a readable file");
}

}  // namespace
}  // namespace qtune
